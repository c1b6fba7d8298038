/**
 * The reference YAML reading of a policy file (the `yaml` package): documents with node ranges, so
 * a diagnostic can point at the offending node. The loader's fast path skips this for files without
 * errors; it runs for every file that has a problem, and to place cross-reference errors.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../result';
import type { FieldPath } from './types';

/** A billion-laughs document expands aliases exponentially; a real policy needs a handful. */
export const MAX_ALIAS_COUNT = 100;

export interface YamlDocument {
  /** 0-based index among the non-empty documents of the file. */
  readonly index: number;
  readonly document: Document.Parsed;
  /** The document as plain data; undefined when it has YAML errors. */
  readonly value: unknown;
}

export interface YamlFile {
  readonly file: string;
  readonly documents: readonly YamlDocument[];
  /** Syntax errors, duplicate keys, alias limits: each with its position. */
  readonly errors: readonly Diagnostic[];
  readonly lineCounter: LineCounter;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

export function parseYamlFile(file: string, text: string): YamlFile {
  const lineCounter = new LineCounter();
  const errors: Diagnostic[] = [];
  const documents: YamlDocument[] = [];
  const at = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  let parsed: Document.Parsed[];
  try {
    parsed = parseAllDocuments(text, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: true,
      strict: true,
      version: '1.2',
      schema: 'core',
      logLevel: 'error', // problems become diagnostics, not process warnings
    }) as Document.Parsed[];
  } catch (e) {
    // The composer recurses per nesting level: absurdly deep input exhausts the stack.
    errors.push(diag(file, { line: 1, column: 1 }, e instanceof RangeError ? 'nesting is too deep to parse' : `cannot be parsed as YAML: ${(e as Error).message}`));
    return { file, documents, errors, lineCounter };
  }
  let index = 0;
  let tooDeep = false;
  for (const document of parsed) {
    const problems = [...document.errors, ...document.warnings];
    for (const p of problems) {
      // The composer recurses per nesting level and records each overflow: report it once.
      if (/call stack/i.test(p.message)) {
        if (!tooDeep) errors.push(diag(file, at(p.pos[0]), 'nesting is too deep to parse'));
        tooDeep = true;
      } else errors.push(diag(file, at(p.pos[0]), `invalid YAML: ${firstLine(p.message)}`));
    }
    if (isEmpty(document.contents) && problems.length === 0) continue;
    let value: unknown;
    if (problems.length === 0) {
      try {
        value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      } catch (e) {
        const where = document.contents ? at(document.contents.range[0]) : { line: 1, column: 1 };
        const message =
          e instanceof RangeError
            ? 'nesting is too deep'
            : /alias/i.test((e as Error).message)
              ? `too many alias expansions (more than ${MAX_ALIAS_COUNT}): an alias bomb?`
              : `invalid YAML: ${firstLine((e as Error).message)}`;
        errors.push(diag(file, where, message));
      }
    }
    documents.push({ index: index++, document, value });
  }
  return { file, documents, errors, lineCounter };
}

/**
 * Position of the node at `path` in a document: the key itself for `at: 'key'` (unknown fields),
 * else the value; for a missing node, the nearest mapping or list that exists (its parent).
 */
export function locate(yaml: YamlFile, index: number, path: FieldPath, at: 'key' | 'value' = 'value'): Position {
  const doc = yaml.documents.find((d) => d.index === index)?.document;
  if (!doc) return { line: 1, column: 1 };
  let node: unknown = doc.contents;
  let found: Node | null = (doc.contents as Node | null) ?? null;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) break;
      const key = pair.key as Node | null;
      if ((i === path.length - 1 && at === 'key') || pair.value === null) {
        found = key ?? found;
        if (pair.value === null || at === 'key') break;
      }
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
    } else break;
    if (node && typeof node === 'object' && 'range' in node) found = node as Node;
  }
  return found?.range ? toPosition(yaml.lineCounter, found.range[0]) : { line: 1, column: 1 };
}

/** Position of the start of a document (its first node). */
export function documentPosition(yaml: YamlFile, index: number): Position {
  return locate(yaml, index, []);
}

function toPosition(lineCounter: LineCounter, offset: number): Position {
  const p = lineCounter.linePos(offset);
  return { line: p.line, column: p.col };
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function isEmpty(contents: unknown): boolean {
  return contents === null || contents === undefined || (isScalar(contents) && contents.value === null);
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}

function diag(file: string, at: Position, message: string): Diagnostic {
  return { file, line: at.line, column: at.column, subject: '', path: '', message };
}
