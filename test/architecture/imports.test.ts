/**
 * The layout's import rules (docs/architecture.md): the pure stages in compiler/ import only
 * compiler/ (the IR and themselves) and do no I/O; the edges import the core, never each other;
 * only the composition roots in cli/ wire edges together; nothing imports cli/ or test/.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { productFiles, ROOT } from './source-files';

/**
 * Folder → the folders (or single files, without extension) its files may import; a folder may
 * always import itself. compiler/result, compiler/duration and compiler/text-order are the stages'
 * shared vocabulary.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'compiler/model': ['compiler/duration', 'compiler/result', 'compiler/text-order'],
  'compiler/ir': ['compiler/model', 'compiler/result', 'compiler/duration', 'compiler/text-order'],
  'compiler/envoy': ['compiler/ir', 'compiler/result', 'compiler/text-order'],
  'compiler/cloud': ['compiler/ir', 'compiler/result', 'compiler/text-order'],
  'compiler/diff': ['compiler/ir', 'compiler/result', 'compiler/text-order'],
  'compiler/monitor': ['compiler/ir', 'compiler/result', 'compiler/duration', 'compiler/text-order'],
  compiler: ['compiler'], // compiler/index.ts, result.ts, duration.ts: the front-end's public API
  sources: ['compiler'],
  grpc: [], // the gRPC server on node:http2 the edges that Envoy calls share (ADS, ALS)
  'xds-server': ['compiler', 'grpc'],
  monitor: ['compiler', 'grpc'],
  bot: ['compiler'],
  audit: ['compiler'],
  stacks: ['compiler', 'sources'], // the Pulumi program's entry point reads the policy folder
  demo: ['compiler', 'sources'],
  cli: ['compiler', 'sources', 'grpc', 'xds-server', 'monitor', 'bot', 'audit', 'demo'],
  bench: ['compiler', 'sources', 'grpc', 'xds-server', 'monitor', 'bot', 'audit'],
  bin: ['dist/cli'], // the built CLI
};

/** Node built-ins a pure stage may use: hashing and IP-literal checks, no I/O, no clock. */
const PURE_BUILTINS = new Set(['node:crypto', 'node:net']);
const PURE_PACKAGES = new Set(['zod', 'js-yaml', 'yaml']);

/** The room a path belongs to: the longest key of MAY_IMPORT that is a folder prefix of it. */
function roomOf(file: string): string | null {
  const dir = path.posix.dirname(file);
  let best: string | null = null;
  for (const room of Object.keys(MAY_IMPORT)) {
    if ((dir === room || dir.startsWith(room + '/') || file.startsWith(room + '.')) && (best === null || room.length > best.length)) best = room;
  }
  return best;
}

function importsOf(file: string): { spec: string; line: number }[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const out: { spec: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])([^'"]+)\1/gm;
  for (const m of text.matchAll(re)) out.push({ spec: m[2]!, line: text.slice(0, m.index).split('\n').length });
  return out;
}

const files = productFiles();

test('every source file belongs to a room of the table', () => {
  expect(files.length).toBeGreaterThan(50);
  expect(files.filter((f) => roomOf(f) === null)).toEqual([]);
});

test('no file imports a folder its room may not import', () => {
  const violations: string[] = [];
  for (const file of files) {
    const room = roomOf(file)!;
    for (const { spec, line } of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (target.startsWith('..') || target.startsWith('node_modules')) continue; // package.json from cli/
      const targetRoom = roomOf(target.endsWith('.ts') ? target : `${target}.ts`) ?? roomOf(`${target}/index.ts`) ?? target;
      if (targetRoom === room || targetRoom === 'package.json') continue;
      const allowed = MAY_IMPORT[room]!;
      const ok = allowed.some((a) => targetRoom === a || targetRoom.startsWith(a + '/') || target === a || target.startsWith(a + '/'));
      if (!ok) violations.push(`${file}:${line} (${room}) imports ${spec} (${targetRoom})`);
    }
  }
  expect(violations).toEqual([]);
});

test('the pure stages in compiler/ do no I/O and read no clock', () => {
  const violations: string[] = [];
  for (const file of files.filter((f) => f.startsWith('compiler/'))) {
    for (const { spec, line } of importsOf(file)) {
      if (spec.startsWith('.')) continue;
      if (spec.startsWith('node:') ? !PURE_BUILTINS.has(spec) : !PURE_PACKAGES.has(spec)) violations.push(`${file}:${line} imports ${spec}`);
    }
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    for (const [re, what] of [
      [/\bDate\.now\(/g, 'Date.now()'],
      [/\bnew Date\(\s*\)/g, 'new Date()'],
      [/\bMath\.random\(/g, 'Math.random()'],
      [/\bprocess\.(env|cwd|hrtime)\b/g, 'process state'],
    ] as const) {
      for (const m of text.matchAll(re)) violations.push(`${file}:${text.slice(0, m.index).split('\n').length} uses ${what}`);
    }
  }
  expect(violations).toEqual([]);
});

test('the rules catch a forbidden import (the checker itself works)', () => {
  const fake = 'xds-server/x.ts';
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(fake), '../cli/context'));
  const targetRoom = roomOf(`${target}.ts`)!;
  expect(targetRoom).toBe('cli');
  expect(MAY_IMPORT[roomOf(fake)!]!.includes(targetRoom)).toBe(false);
});
