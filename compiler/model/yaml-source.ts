/**
 * The reference YAML reading of a policy file (the `yaml` package): documents with node ranges, so
 * a diagnostic can point at the offending node. The loader's fast path skips this for files without
 * errors; it runs for every file that has a problem, and to place cross-reference errors.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Alias, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../result';
import type { FieldPath } from './types';

/**
 * Alias expansions per document (an alias of a node holding aliases counts those too): a
 * billion-laughs document expands exponentially; a real policy needs a handful.
 */
export const MAX_ALIAS_COUNT = 100;

/** Documents per file: each costs a parse and, when invalid, a diagnostic; 10,000 routes fit in one file. */
export const MAX_DOCUMENTS_PER_FILE = 20_000;

export interface YamlDocument {
  /** 0-based index among the non-empty documents of the file. */
  readonly index: number;
  readonly document: Document.Parsed;
  /** The document as plain data; undefined when it has YAML errors. */
  readonly value: unknown;
}

export interface YamlFile {
  readonly file: string;
  /** `documents[i].index === i`. */
  readonly documents: readonly YamlDocument[];
  /** Syntax errors, duplicate keys, alias limits: each with its position. */
  readonly errors: readonly Diagnostic[];
  readonly lines: LineIndex;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

export function parseYamlFile(file: string, text: string): YamlFile {
  const lines = lineIndex(text);
  const errors: Diagnostic[] = [];
  const documents: YamlDocument[] = [];
  const at = (offset: number): Position => lines.position(offset);
  const tooMany = documentMarkerBeyond(text, MAX_DOCUMENTS_PER_FILE);
  if (tooMany >= 0) {
    errors.push(diag(file, at(tooMany), `more than ${MAX_DOCUMENTS_PER_FILE} documents in one file: split it`));
    return { file, documents, errors, lines };
  }
  let parsed: Document.Parsed[];
  try {
    parsed = parseAllDocuments(text, {
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
    return { file, documents, errors, lines };
  }
  for (const offset of repeatedYamlDirectives(text)) errors.push(diag(file, at(offset), 'invalid YAML: a document may have only one %YAML directive'));
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
    const bomb = problems.length === 0 ? aliasBeyond(document, MAX_ALIAS_COUNT) : null;
    if (bomb) {
      errors.push(diag(file, at(bomb.range?.[0] ?? 0), `more than ${MAX_ALIAS_COUNT} alias expansions in one document: an alias bomb?`));
    } else if (problems.length === 0) {
      try {
        // aliasBeyond bounded the expansions; yaml's own (differently counted) limit stays as a backstop.
        value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT * MAX_ALIAS_COUNT });
      } catch (e) {
        const where = document.contents ? at(document.contents.range[0]) : { line: 1, column: 1 };
        const message =
          e instanceof RangeError
            ? 'nesting is too deep'
            : /alias/i.test((e as Error).message)
              ? `more than ${MAX_ALIAS_COUNT} alias expansions in one document: an alias bomb?`
              : `invalid YAML: ${firstLine((e as Error).message)}`;
        errors.push(diag(file, where, message));
      }
    }
    documents.push({ index: index++, document, value });
  }
  return { file, documents, errors, lines };
}

/**
 * The alias at which the document's expansions pass `max`, or null. Each alias counts 1 plus the
 * expansions inside its anchor (memoised per anchor and capped, so a bomb is counted, not expanded).
 */
function aliasBeyond(document: Document.Parsed, max: number): Alias | null {
  const memo = new Map<unknown, number>();
  /** Expansions inside `node`: what one alias of it adds besides itself. */
  const inside = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(document);
      let w = memo.get(target);
      if (w === undefined) {
        memo.set(target, 0); // an alias inside its own anchor (refused by the parser) counts once
        w = Math.min(max + 1, inside(target));
        memo.set(target, w);
      }
      return 1 + w;
    }
    let sum = 0;
    if (isMap(node) || isSeq(node)) for (const item of node.items) sum = Math.min(max + 1, sum + inside(item));
    else if (isPair(node)) sum = Math.min(max + 1, inside(node.key) + inside(node.value));
    return sum;
  };
  // The document in order: the alias whose expansion makes the running total pass `max`.
  let total = 0;
  const stack: unknown[] = [document.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) {
      total += inside(node);
      if (total > max) return node;
    } else if (isMap(node) || isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
    } else if (isPair(node)) stack.push(node.value, node.key);
  }
  return null;
}

/** Offset of the `(max+1)`th document start marker (`---` at a line start), or -1. */
function documentMarkerBeyond(text: string, max: number): number {
  let count = 0;
  const marker = /^---(?=[ \t\r\n]|$)/gm;
  for (let m = marker.exec(text); m; m = marker.exec(text)) if (++count > max) return m.index;
  return -1;
}

/** Offsets of `%YAML` directives that repeat one already given for the same document (YAML 1.2 §6.8.1). */
function repeatedYamlDirectives(text: string): number[] {
  if (!text.includes('%YAML')) return [];
  const out: number[] = [];
  let seen = false;
  const line = /^(%YAML\b|---|\.\.\.)/gm;
  for (let m = line.exec(text); m; m = line.exec(text)) {
    if (m[1] !== '%YAML') seen = false;
    else if (seen) out.push(m.index);
    else seen = true;
  }
  return out;
}

/** Line starts of a text, so that an offset becomes line:column without trusting the parser's own counter. */
export interface LineIndex {
  position(offset: number): Position;
}

function lineIndex(text: string): LineIndex {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return {
    position(offset) {
      const o = Math.max(0, Math.min(offset, text.length));
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] as number) <= o) lo = mid;
        else hi = mid - 1;
      }
      return { line: lo + 1, column: o - (starts[lo] as number) + 1 };
    },
  };
}

/**
 * Position of the node at `path` in a document: the key itself for `at: 'key'` (unknown fields),
 * else the value; for a missing node, the nearest mapping or list that exists (its parent).
 */
export function locate(yaml: YamlFile, index: number, path: FieldPath, at: 'key' | 'value' = 'value'): Position {
  const doc = yaml.documents[index]?.document;
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
  return found?.range ? yaml.lines.position(found.range[0]) : { line: 1, column: 1 };
}

/** Position of the start of a document (its first node). */
export function documentPosition(yaml: YamlFile, index: number): Position {
  return locate(yaml, index, []);
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
