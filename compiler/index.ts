/**
 * Public API of the compiler front-end: policy files → validated model → IR for an instant `now`.
 * Pure: the sources (sources/: a folder, a git revision) hand it file texts; the translators read the IR.
 */
import { createHash } from 'node:crypto';
import type { PolicyIR } from './ir/ir';
import { buildIR, createIrMemo, NO_SHADOW, type ShadowSelection } from './ir/build';
import { loadFile, type LoadedFile, type SourceFile } from './model/load';
import type { PolicyModel } from './model/types';
import { createLocator, validateModel } from './model/validate';
import type { Result } from './result';

export { cloudLimitDiagnostics } from './cloud-limits';
export { buildIR, isLockdownActive, NO_SHADOW, type ShadowSelection } from './ir/build';
export { compareRoutes } from './ir/route-order';
export { instantiateLockdown, type LockdownSpecData, type TriggerFiring } from './ir/trigger';
export type { TriggerIR, TriggerConditionIR, LockdownTemplateIR, CauseIR, TriggerKeyIR } from './ir/ir';
export { API_VERSION, KINDS, policySchemaJson } from './model/schema';
export type { AccessSpec, EndpointSpec, EnvironmentSpec, Kind, LockdownAction, LockdownSpec, RateLimitSpec, RateUnit, RouteSpec, ServiceSpec, SpecOf, TriggerSpec } from './model/schema';
export { isPolicyFileName, MAX_FILE_BYTES, type SourceFile } from './model/load';
export type * from './model/types';
export { decodePolicyFile } from './model/text';
export { formatPath, subjectOf } from './model/types';

/** Loads and validates policy files (any paths, any layout): the model, or every error sorted. */
export function loadModel(files: readonly SourceFile[]): Result<PolicyModel> {
  const loaded = uniqueByPath(files).map(loadFile);
  return validateModel(loaded, createLocator(new Map(files.map((f) => [f.path, f.text]))));
}

/**
 * Compiles policy files for the instant `now`. Pure apart from the clock value it is given. The
 * Lockdowns `shadow` names run in shadow mode in the environment it gives (see buildIR).
 */
export function compileSources(files: readonly SourceFile[], now: Date, shadow: ShadowSelection = NO_SHADOW): Result<PolicyIR> {
  const model = loadModel(files);
  return model.ok ? { ok: true, value: buildIR(model.value, now, undefined, shadow) } : model;
}

/** A change to one file of the set: new text, or null when the file was deleted. */
export interface FileChange {
  readonly path: string;
  readonly text: string | null;
}

/** What the last `update`/`replaceAll` did: files parsed again, and files whose cached parse was reused. */
export interface UpdateStats {
  readonly parsed: number;
  readonly reused: number;
  readonly removed: number;
}

/**
 * A compiler that keeps the parsed, schema-checked result of every file, keyed by path and content
 * hash: after a one-file change only that file is parsed again; cross-reference validation and the
 * IR are recomputed from the cached documents (both are linear in the repository size).
 */
export interface IncrementalCompiler {
  /** Adds, changes or deletes some files of the current set. */
  update(changes: readonly FileChange[]): UpdateStats;
  /** Makes `files` the whole set (files not listed are dropped); unchanged files keep their cached parse. */
  replaceAll(files: readonly SourceFile[]): UpdateStats;
  /** The validated model of the current set (cached until the next change). */
  model(): Result<PolicyModel>;
  /** Compiles the current set for `now` (`shadow`: see compileSources). */
  compile(now: Date, shadow?: ShadowSelection): Result<PolicyIR>;
  /** `replaceAll(files)` then `compile(now)`: a drop-in for `compileSources` that reuses the cache. */
  compileFiles(files: readonly SourceFile[], now: Date, shadow?: ShadowSelection): Result<PolicyIR>;
  /** Paths of the current set, sorted. */
  paths(): string[];
}

interface CachedFile {
  readonly text: string;
  readonly hash: string;
  readonly loaded: LoadedFile;
}

export function createIncrementalCompiler(): IncrementalCompiler {
  const cache = new Map<string, CachedFile>();
  let model: Result<PolicyModel> | null = null;
  const memo = createIrMemo();

  const put = (file: SourceFile): boolean => {
    const hash = contentHash(file.text);
    if (cache.get(file.path)?.hash === hash) return false;
    cache.set(file.path, { text: file.text, hash, loaded: loadFile(file) });
    model = null;
    return true;
  };

  const self: IncrementalCompiler = {
    update(changes) {
      let parsed = 0;
      let removed = 0;
      for (const c of changes) {
        if (c.text === null) {
          if (cache.delete(c.path)) {
            removed++;
            model = null;
          }
        } else if (put({ path: c.path, text: c.text })) parsed++;
      }
      return { parsed, reused: cache.size - parsed, removed };
    },
    replaceAll(files) {
      const wanted = new Set(files.map((f) => f.path));
      let removed = 0;
      for (const path of [...cache.keys()]) {
        if (!wanted.has(path)) {
          cache.delete(path);
          removed++;
          model = null;
        }
      }
      let parsed = 0;
      for (const f of uniqueByPath(files)) if (put(f)) parsed++;
      return { parsed, reused: cache.size - parsed, removed };
    },
    model() {
      if (!model) {
        const paths = self.paths();
        const texts = new Map(paths.map((p) => [p, cache.get(p)?.text ?? '']));
        model = validateModel(
          paths.map((p) => cache.get(p)?.loaded).filter((l): l is LoadedFile => l !== undefined),
          createLocator(texts),
        );
      }
      return model;
    },
    compile(now, shadow) {
      const m = self.model();
      return m.ok ? { ok: true, value: buildIR(m.value, now, memo, shadow) } : m;
    },
    compileFiles(files, now, shadow) {
      self.replaceAll(files);
      return self.compile(now, shadow);
    },
    paths() {
      return [...cache.keys()].sort();
    },
  };
  return self;
}

function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The last file given for a path wins (a caller's list should not repeat paths). */
function uniqueByPath(files: readonly SourceFile[]): SourceFile[] {
  const byPath = new Map<string, SourceFile>();
  for (const f of files) byPath.set(f.path, f);
  return [...byPath.values()];
}
