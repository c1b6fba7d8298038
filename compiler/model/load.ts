/**
 * Policy loader, the first stage: YAML files → schema-checked documents, or diagnostics with
 * file:line:col. Each file is loaded on its own (the incremental compiler caches the result per file).
 *
 * Two readings of YAML: js-yaml (fast, ~15× the `yaml` package here) gives the values of files
 * without errors; a file with any problem is re-read with `yaml`, which keeps node ranges, and the
 * diagnostics come from that reading. Both are restricted to the YAML 1.2 core schema. Files that
 * may hold aliases or directives go straight to the `yaml` reading, which bounds alias expansions
 * (js-yaml has no such limit): one reading decides, so the two never disagree on what is accepted.
 */
import * as jsyaml from 'js-yaml';
import { z } from 'zod';
import { compareDiagnostics, type Diagnostic } from '../result';
import { policyErrorMap, suggest, toProblems, type Problem } from './issues';
import { API_VERSION, DOCUMENT_SCHEMAS, KINDS, metadata, type Kind } from './schema';
import { hostileValueProblems, loneSurrogateAt, mayHideHostileValues, type SourceFile } from './text';
import { formatPath, type AnyPolicyDocument, type DocSource } from './types';
import { locate, parseYamlFile, type YamlFile } from './yaml-source';

export type { SourceFile } from './text';

/** A document that failed its schema but said what it is: references to it are not "unknown". */
export interface Declaration {
  readonly kind: Kind;
  readonly name: string;
  readonly source: DocSource;
  /** The raw document: its references are still checked (see references.ts). */
  readonly value: unknown;
}

export interface LoadedFile {
  readonly path: string;
  /** Documents that passed their schema, in file order. */
  readonly documents: readonly AnyPolicyDocument[];
  /** Documents with schema errors whose kind and name are known. */
  readonly invalid: readonly Declaration[];
  readonly errors: readonly Diagnostic[];
  /**
   * Some document could not be read far enough to know what it declares (YAML errors, an unknown
   * kind, no name): references to unknown names are then not reported, they are likely noise.
   */
  readonly unreadable: boolean;
}

/** Diagnostics reported per file; more are counted in one last line. */
export const MAX_ERRORS_PER_FILE = 1000;

/** Larger files are refused: split policies into files (a 10,000-route file is about 2 MB). */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

export function isPolicyFileName(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

export function loadFile(file: SourceFile): LoadedFile {
  const { path, text } = file;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_FILE_BYTES) {
    return failed(path, 1, 1, `file is too large (${(bytes / 1048576).toFixed(1)} MiB; at most ${MAX_FILE_BYTES / 1048576} MiB per file): split it`);
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return failedAt(path, text, nul, 'contains NUL bytes: not a YAML text file');
  const surrogate = loneSurrogateAt(text);
  if (surrogate >= 0) return failedAt(path, text, surrogate, 'contains a lone UTF-16 surrogate: not Unicode text');
  const scan = mayHideHostileValues(text);
  return fastLoad(path, text, scan) ?? slowLoad(path, text, scan);
}

/**
 * Aliases (`*name` where a node may start) and directives (`%` at a line start) are left to the `yaml`
 * reading. Conservative: a `*` inside a quoted string also matches, which only costs speed.
 */
function needsYamlReading(text: string): boolean {
  return /(^|[\s[{,:?-])\*[^\s[\]{},]/.test(text) || /^%/m.test(text);
}

/** The two readings alone, for the test that they agree (test/compiler/yaml-readings.test.ts). */
export const readings = {
  jsYaml: (file: SourceFile): LoadedFile | null => fastLoad(file.path, file.text, mayHideHostileValues(file.text)),
  yaml: (file: SourceFile): LoadedFile => slowLoad(file.path, file.text, mayHideHostileValues(file.text)),
};

/**
 * js-yaml reading; null when anything at all is wrong with the file, or when it may hold aliases or
 * directives, which js-yaml cannot bound (then the `yaml` reading decides).
 */
function fastLoad(path: string, text: string, scan: boolean): LoadedFile | null {
  if (needsYamlReading(text)) return null;
  let values: unknown[];
  try {
    values = jsyaml.loadAll(text, undefined, { schema: CORE_1_2, filename: path });
  } catch {
    return null;
  }
  const documents: AnyPolicyDocument[] = [];
  let index = 0;
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const checked = checkDocument(value, { file: path, index: index++ }, scan);
    if (!checked.ok) return null;
    documents.push(checked.document);
  }
  return { path, documents, invalid: [], errors: [], unreadable: false };
}

function slowLoad(path: string, text: string, scan: boolean): LoadedFile {
  const yaml = parseYamlFile(path, text);
  const errors: Diagnostic[] = [...yaml.errors];
  const documents: AnyPolicyDocument[] = [];
  const invalid: Declaration[] = [];
  let unreadable = yaml.errors.length > 0;
  for (const doc of yaml.documents) {
    if (doc.value === undefined) continue; // YAML errors already reported
    if (doc.value === null) continue;
    const source = { file: path, index: doc.index };
    const checked = checkDocument(doc.value, source, scan);
    if (checked.ok) {
      documents.push(checked.document);
      continue;
    }
    if (checked.kind && checked.name) invalid.push({ kind: checked.kind, name: checked.name, source, value: doc.value });
    else unreadable = true;
    const subject = checked.kind ? `${checked.kind}${checked.name ? `/${checked.name}` : ''}` : '';
    for (const p of checked.problems) errors.push(placeProblem(yaml, doc.index, subject, p));
  }
  if (errors.length > MAX_ERRORS_PER_FILE) {
    // A generated or garbled file would print hundreds of thousands of lines: the first ones say enough.
    errors.sort(compareDiagnostics);
    const next = errors[MAX_ERRORS_PER_FILE] as Diagnostic;
    const more = errors.length - MAX_ERRORS_PER_FILE;
    errors.length = MAX_ERRORS_PER_FILE;
    errors.push({ ...next, subject: '', path: '', message: `... and ${more} more errors in this file (only the first ${MAX_ERRORS_PER_FILE} are shown)` });
  }
  if (errors.length === 0 && documents.length === 0 && invalid.length === 0) {
    // js-yaml refused what `yaml` accepts (the two differ at the margins): report js-yaml's reason.
    const reason = jsyamlError(path, text);
    if (reason) errors.push(reason);
  }
  return { path, documents, invalid, errors, unreadable };
}

export function placeProblem(yaml: YamlFile, index: number, subject: string, p: Problem): Diagnostic {
  const at = locate(yaml, index, p.path, p.at);
  return { file: yaml.file, line: at.line, column: at.column, subject, path: formatPath(p.path), message: p.message };
}

type Checked =
  | { readonly ok: true; readonly document: AnyPolicyDocument }
  | { readonly ok: false; readonly kind: Kind | null; readonly name: string | null; readonly problems: readonly Problem[] };

const KIND_LIST = KINDS.join(', ');

/** For documents of an unknown kind: still check the envelope, so every error is reported at once. */
const envelope = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.unknown().optional(), // reported on its own, with the list of kinds
  metadata,
  spec: z.looseObject({}),
});

/**
 * Checks one document against the schema of its kind; with `scan`, first for what no schema sees
 * (lone surrogates, `__proto__` keys: see text.ts).
 */
export function checkDocument(value: unknown, source: DocSource, scan = true): Checked {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, kind: null, name: null, problems: [{ path: [], message: 'a policy document must be a mapping with apiVersion, kind, metadata and spec', at: 'value' }] };
  }
  const record = value as Record<string, unknown>;
  const kindValue = record.kind;
  const kind = KINDS.find((k) => k === kindValue) ?? null;
  const meta = record.metadata;
  const nameValue = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>).name : undefined;
  const name = typeof nameValue === 'string' && nameValue !== '' ? nameValue : null;
  const problems: Problem[] = scan ? hostileValueProblems(value) : [];
  const schema = kind ? DOCUMENT_SCHEMAS[kind] : envelope;
  if (!kind) {
    const message =
      kindValue === undefined
        ? `required: one of ${KIND_LIST}`
        : typeof kindValue === 'string'
          ? `unknown kind "${kindValue.slice(0, 60)}"${suggest(kindValue, KINDS)}; expected one of ${KIND_LIST}`
          : `must be one of ${KIND_LIST}`;
    problems.push({ path: ['kind'], message, at: 'value' });
  }
  const parsed = schema.safeParse(value, { reportInput: true, error: policyErrorMap });
  if (!parsed.success) problems.push(...toProblems(parsed.error.issues, schema, value));
  if (problems.length > 0 || !parsed.success || !kind) return { ok: false, kind, name, problems };
  const data = parsed.data as { metadata: { name: string; labels?: Record<string, string> }; spec: unknown };
  return {
    ok: true,
    document: { kind, name: data.metadata.name, labels: data.metadata.labels ?? {}, spec: data.spec, source } as AnyPolicyDocument,
  };
}

function jsyamlError(path: string, text: string): Diagnostic | null {
  try {
    jsyaml.loadAll(text, undefined, { schema: CORE_1_2, filename: path });
    return null;
  } catch (e) {
    const mark = (e as { mark?: { line: number; column: number } }).mark;
    const reason = (e as { reason?: string }).reason ?? (e instanceof RangeError ? 'nesting is too deep' : (e as Error).message);
    return { file: path, line: (mark?.line ?? 0) + 1, column: (mark?.column ?? 0) + 1, subject: '', path: '', message: `invalid YAML: ${reason}` };
  }
}

function failedAt(path: string, text: string, offset: number, message: string): LoadedFile {
  const before = text.slice(0, offset);
  return failed(path, before.split('\n').length, offset - before.lastIndexOf('\n'), message);
}

function failed(path: string, line: number, column: number, message: string): LoadedFile {
  return { path, documents: [], invalid: [], errors: [{ file: path, line, column, subject: '', path: '', message }], unreadable: true };
}

// ---------------------------------------------------------------------------------------------
// YAML 1.2 core schema for js-yaml, so both readings agree on what a plain scalar is (js-yaml's own
// CORE_SCHEMA follows YAML 1.1 for numbers: `1_000`, `0b1`, `+.5e3`...).

const coreNull = new jsyaml.Type('tag:yaml.org,2002:null', {
  kind: 'scalar',
  resolve: (data: string | null) => data === null || /^(~|null|Null|NULL|)$/.test(data),
  construct: () => null,
  predicate: (o: unknown) => o === null,
  represent: () => 'null',
});
const coreBool = new jsyaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && /^(true|True|TRUE|false|False|FALSE)$/.test(data),
  construct: (data: string) => /^t/i.test(data),
  predicate: (o: unknown) => typeof o === 'boolean',
  represent: (o: object) => String(o),
});
const coreInt = new jsyaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && /^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/.test(data),
  construct: (data: string) =>
    data.startsWith('0o') ? parseInt(data.slice(2), 8) : data.startsWith('0x') ? parseInt(data.slice(2), 16) : Number(data),
  predicate: (o: unknown) => typeof o === 'number' && Number.isInteger(o),
  represent: (o: object) => String(o),
});
const coreFloat = new jsyaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: string | null) =>
    data !== null &&
    /^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$/.test(data),
  construct: (data: string) => {
    if (/^\.(nan|NaN|NAN)$/.test(data)) return NaN;
    if (/\.(inf|Inf|INF)$/.test(data)) return data.startsWith('-') ? -Infinity : Infinity;
    return Number(data);
  },
  predicate: (o: unknown) => typeof o === 'number',
  represent: (o: object) => String(o),
});
const CORE_1_2 = jsyaml.FAILSAFE_SCHEMA.extend({ implicit: [coreNull, coreBool, coreInt, coreFloat] });
