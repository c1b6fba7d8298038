/**
 * RE2 check for route and header regexes. Envoy compiles them with RE2 and refuses a program larger
 * than `re2.max_program_size.error_level` (100 by default); a regex it refuses NACKs the whole route
 * configuration, so we ask the real RE2 (native/re2-program-size.cc, the library Envoy links) and refuse
 * the same patterns here, with a position.
 */

/** Envoy's default `re2.max_program_size.error_level`: larger programs are refused. */
export const MAX_PROGRAM_SIZE = 100;

/** Bounds the work per pattern; a pattern this long is far over the program size anyway, unless it is literal text. */
export const MAX_REGEX_LENGTH = 1024;

/** RE2 rejects counted repetitions above 1000. */
const MAX_REPEAT = 1000;

interface Compiled {
  readonly ok: boolean;
  readonly error: string;
  readonly programSize: number;
}

interface Re2Addon {
  compile(pattern: string): Compiled;
}

/** Where scripts/build-native.sh puts the addon, from this module in the sources and in dist/. */
const ADDON_PATHS = ['../../native/build/re2-program-size.node', '../../../native/build/re2-program-size.node'];
let addon: Re2Addon | null = null;

/**
 * Loads the addon (code loading, like any import: no policy data is read). A missing build is a
 * set-up bug, not a policy error: it throws.
 */
function re2(): Re2Addon {
  if (addon) return addon;
  for (const rel of ADDON_PATHS) {
    try {
      addon = require(`${__dirname}/${rel}`) as Re2Addon; // eslint-disable-line @typescript-eslint/no-require-imports
      return addon;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error('native/build/re2-program-size.node is not built: run scripts/setup.sh (or bash scripts/build-native.sh)');
}

/** RE2's verdict on a pattern, as Envoy compiles it. */
export function compileRe2(pattern: string): Compiled {
  return re2().compile(namedGroupsAsP(pattern));
}

/**
 * `(?<name>...)` → `(?P<name>...)`: Envoy's RE2 (2025) accepts both spellings, the system libre2 the
 * addon links (Debian 12: 2022-06) only the second; the program is the same.
 */
function namedGroupsAsP(p: string): string {
  if (!p.includes('(?<')) return p;
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      out += p.slice(i, i + 2);
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += p[++i];
    } else if (c === '(' && p.startsWith('?<', i + 1) && /[A-Za-z0-9_]/.test(p[i + 3] ?? '')) {
      out += '(?P<';
      i += 2;
    } else out += c;
  }
  return out;
}

/** Returns null when Envoy would accept the pattern, else what is wrong. */
export function checkRe2(pattern: string): string | null {
  if (pattern.length === 0) return 'must not be empty';
  if (pattern.length > MAX_REGEX_LENGTH) return `regex is longer than ${MAX_REGEX_LENGTH} characters`;
  const compiled = re2().compile(namedGroupsAsP(pattern));
  if (!compiled.ok) {
    // RE2 is the judge; the scan only names what a JavaScript or PCRE habit probably meant.
    const unsupported = findUnsupported(pattern);
    return unsupported ? `${unsupported} is not supported by RE2 (Envoy's regex engine)` : `RE2 (Envoy's regex engine) refuses it: ${compiled.error}`;
  }
  if (compiled.programSize > MAX_PROGRAM_SIZE) {
    return `RE2 program size ${compiled.programSize} is over Envoy's limit of ${MAX_PROGRAM_SIZE}: use fewer or smaller counted repetitions and classes (each repetition is compiled as copies)`;
  }
  return null;
}

/** Scans outside character classes for constructs RE2 lacks (backreferences, lookaround, atomic groups). */
function findUnsupported(p: string): string | null {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const n = p[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(n)) return `backreference \\${n}`;
      if (!inClass && n === 'k' && p[i + 2] === '<') return 'named backreference \\k<...>';
      // \p{Greek}, \x{263a}: the braces belong to the escape, not to a repetition.
      const close = 'pPx'.includes(n) && p[i + 2] === '{' ? p.indexOf('}', i + 3) : -1;
      i = close > 0 ? close : i + 1;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (p[i + 1] === '^') i++;
      if (p[i + 1] === ']') i++; // a leading ']' is a literal inside the class
      continue;
    }
    if (c === '(' && p[i + 1] === '?') {
      const rest = p.slice(i + 2, i + 4);
      if (rest.startsWith('=')) return 'lookahead (?=...)';
      if (rest.startsWith('!')) return 'negative lookahead (?!...)';
      if (rest === '<=') return 'lookbehind (?<=...)';
      if (rest === '<!') return 'negative lookbehind (?<!...)';
      if (rest.startsWith('>')) return 'atomic group (?>...)';
      if (rest.startsWith('(')) return 'conditional (?(...)...)';
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (m && (Number(m[1]) > MAX_REPEAT || (m[3] !== undefined && m[3] !== '' && Number(m[3]) > MAX_REPEAT))) {
        return `repetition count above ${MAX_REPEAT} (${m[0]})`;
      }
    }
    if ((c === '*' || c === '+' || c === '?' || c === '}') && p[i + 1] === '+') return 'possessive quantifier';
  }
  return null;
}
