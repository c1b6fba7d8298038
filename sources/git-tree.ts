/**
 * The git reader, the other policy source beside the directory reader: the policy tree of one
 * commit, read from the object store (never a work tree), through the rule both readers share
 * (sources/policy-tree.ts). Used by `portcullis plan` (git-revision.ts) and the follower.
 */
import type { SourceFile } from '../compiler';
import type { GitObjects, RawTreeEntry } from './git';
import { decodeName, decodePolicyText, judgeEntries, type PolicyTree, type TreeEntry } from './policy-tree';

const KIND_BY_MODE: Record<string, TreeEntry['kind']> = {
  '100644': 'file',
  '100755': 'file',
  '120000': 'symlink', // a blob holding the link's target: read as a name, never followed
  '160000': 'submodule',
  '040000': 'folder',
};

/**
 * The policy tree under `folder` ('' = the repository root) at `commit`. `previous` (blob id →
 * text, the `blobs` of an earlier call) lets the follower skip blobs it has read before; `blobs`
 * holds the texts of this tree's files only.
 */
export async function readTreeAt(
  objects: GitObjects,
  commit: string,
  folder: string,
  previous: ReadonlyMap<string, string> = new Map(),
): Promise<PolicyTree & { readonly blobs: Map<string, string> }> {
  const clean = folder.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  const prefix = clean === '' || clean === '.' ? '' : `${clean}/`;
  const raw = await objects.listTree(commit, clean);
  const links = raw.filter((e) => e.mode === '120000');
  const targets = await objects.readBlobBytes(links.map((e) => e.object));
  const byPath = new Map<string, RawTreeEntry>(raw.map((e) => [e.path, e]));
  const entries: TreeEntry[] = raw.map((e) => ({
    path: e.path,
    relative: e.path.slice(prefix.length),
    kind: KIND_BY_MODE[e.mode] ?? 'other',
    target: e.mode === '120000' ? decodeName(targets.get(e.object) ?? Buffer.from('?')) : undefined,
    size: e.size,
  }));
  const verdict = judgeEntries(entries);
  const blobs = verdict.read.map((e) => byPath.get(e.path)!.object);
  const fresh = await objects.readBlobBytes(blobs.filter((b) => !previous.has(b)));
  // Only blobs that decoded are remembered: one with invalid UTF-8 is refused again at every sync.
  const texts = new Map<string, string>();
  const files: SourceFile[] = [];
  const problems = [...verdict.problems];
  verdict.read.forEach((e, i) => {
    const blob = blobs[i]!;
    const text = previous.get(blob) ?? decodePolicyText(e.path, fresh.get(blob) ?? Buffer.alloc(0));
    if (typeof text === 'string' || text.ok) {
      const value = typeof text === 'string' ? text : text.value;
      texts.set(blob, value);
      files.push({ path: e.path, text: value });
    } else problems.push(...text.errors);
  });
  return { files, problems, notes: verdict.notes, blobs: texts };
}
