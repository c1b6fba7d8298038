/**
 * "No function over ~80 lines" (docs/architecture.md): every function, method, accessor, constructor
 * and arrow function in product code is at most MAX_LINES long, unless the line above it says why
 * (`// long: <reason>`). Offenders not yet split are listed in long-functions.txt (`path:name` per
 * line); the list may only shrink: an entry that is no longer long fails too.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { productFiles, ROOT } from './source-files';

const MAX_LINES = 80;
const ALLOWLIST = path.join(__dirname, 'long-functions.txt');
const LONG_COMMENT = /^\s*\/\/\s*long:\s*\S/;

export interface LongFunction {
  /** `path:name`, the allowlist's key; name is the chain of enclosing names (`outer.inner`). */
  key: string;
  /** 1-based line of the function's first token. */
  line: number;
  lines: number;
  /** The line above says `// long: <reason>`. */
  justified: boolean;
}

type FunctionNode = ts.FunctionLikeDeclaration;

function isFunction(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

function propertyName(name: ts.PropertyName | ts.BindingName | undefined, sf: ts.SourceFile): string | undefined {
  if (name === undefined) return undefined;
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isPrivateIdentifier(name)) return name.text;
  return name.getText(sf);
}

/** The name a reader would use for a function: its own, or that of what it is assigned to. */
function nameOf(node: FunctionNode, sf: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const own = node.name === undefined ? undefined : propertyName(node.name, sf);
  if (own !== undefined) return own;
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return propertyName(parent.name, sf) ?? '(anonymous)';
  if (ts.isExportAssignment(parent)) return 'default';
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(sf).slice(0, 40)})`;
  return '(anonymous)';
}

/** The node whose preceding line carries the `// long:` comment: the whole declaration for `const f = () => …`. */
function anchorOf(node: FunctionNode): ts.Node {
  let anchor: ts.Node = node;
  if (ts.isVariableDeclaration(node.parent)) anchor = node.parent.parent.parent; // VariableStatement
  else if (ts.isPropertyAssignment(node.parent) || ts.isPropertyDeclaration(node.parent)) anchor = node.parent;
  return anchor;
}

/** Every function of `file` (repository-relative) longer than `max` lines. */
export function longFunctions(file: string, text: string, max = MAX_LINES): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const lines = text.split('\n');
  const out: LongFunction[] = [];
  const visit = (node: ts.Node, names: string[]): void => {
    let inner = names;
    if (isFunction(node) && node.body !== undefined) {
      inner = [...names, nameOf(node, sf)];
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > max) {
        const anchorLine = sf.getLineAndCharacterOfPosition(anchorOf(node).getStart(sf)).line;
        const above = anchorLine > 0 ? lines[anchorLine - 1]! : '';
        out.push({ key: `${file}:${inner.join('.')}`, line: start + 1, lines: end - start + 1, justified: LONG_COMMENT.test(above) });
      }
    } else if (ts.isClassDeclaration(node) && node.name !== undefined) {
      inner = [...names, node.name.text];
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(sf, []);
  return out;
}

function allowlist(): string[] {
  return readFileSync(ALLOWLIST, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

const files = productFiles(/\.ts$/).filter((f) => !f.endsWith('.test.ts'));
const found = files.flatMap((f) => longFunctions(f, readFileSync(path.join(ROOT, f), 'utf8')));

test(`no function is longer than ${MAX_LINES} lines without a "// long: <reason>" line above it or an allowlist entry`, () => {
  expect(files.length).toBeGreaterThan(50);
  const allowed = new Set(allowlist());
  const offenders = found.filter((f) => !f.justified && !allowed.has(f.key)).map((f) => `${f.key} (line ${f.line}, ${f.lines} lines)`);
  expect(offenders).toEqual([]);
});

test('the allowlist is not stale: every entry names a function that is still long and has no "// long:" comment', () => {
  const stillLong = new Set(found.filter((f) => !f.justified).map((f) => f.key));
  const entries = allowlist();
  expect(entries.filter((e) => !stillLong.has(e))).toEqual([]);
  expect(entries.filter((e, i) => entries.indexOf(e) !== i)).toEqual([]);
});

test('the checker measures what it claims (names, the comment, the 80-line bound)', () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const text = [
    `export function short() {\n${body(78)}\n}`, // 80 lines: allowed
    `export function long() {\n${body(79)}\n}`, // 81 lines
    `// long: a table\nconst table = () => {\n${body(90)}\n};`,
    `class Box {\n  method() {\n${body(85)}\n  }\n}`,
    `const outer = { handler: function () {\n${body(85)}\n} };`,
  ].join('\n');
  const got = longFunctions('x/y.ts', text).map((f) => `${f.key}:${f.lines}:${f.justified}`);
  expect(got).toEqual(['x/y.ts:long:81:false', 'x/y.ts:table:92:true', 'x/y.ts:Box.method:87:false', 'x/y.ts:handler:87:false']);
});
