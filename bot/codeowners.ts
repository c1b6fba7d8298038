/**
 * Bot: who reviews a lockdown when its Trigger names no reviewers — the CODEOWNERS of the lockdown
 * file (GitHub's rules: the last matching line wins; `*`, `**`, a leading `/` anchors, a trailing `/`
 * is a folder). Pure.
 */

/** Where GitHub looks for the file, in its order. */
export const CODEOWNERS_PATHS = ['.github/CODEOWNERS', 'CODEOWNERS', 'docs/CODEOWNERS'] as const;

function patternRegExp(pattern: string): RegExp {
  let p = pattern;
  const anchored = p.startsWith('/') || p.slice(0, -1).includes('/');
  p = p.replace(/^\//, '');
  const folder = p.endsWith('/');
  if (folder) p = p.slice(0, -1);
  const body = p
    .split('/')
    .map((seg) => (seg === '**' ? '\u0000' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
    .join('/')
    .replace(/\u0000\//g, '(?:.*/)?')
    .replace(/\/\u0000/g, '(?:/.*)?')
    .replace(/\u0000/g, '.*');
  return new RegExp(`${anchored ? '^' : '(?:^|/)'}${body}${folder ? '/' : '(?:$|/)'}`);
}

/** The owners (`@user`, `@org/team`) of `path`; empty when no line matches or the last match has none. */
export function codeOwnersFor(text: string, path: string): string[] {
  let owners: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const [pattern, ...rest] = line.split(/\s+/);
    if (pattern && patternRegExp(pattern).test(path)) owners = rest.filter((o) => o.startsWith('@'));
  }
  return owners;
}
