/**
 * RE2 compatibility check for route and header regexes. Envoy compiles them with RE2, which has no
 * backtracking features; a regex Envoy refuses would NACK the whole route configuration, so we refuse
 * it here, with a position-accurate message, instead.
 */

/** Longest pattern accepted: Envoy rejects RE2 programs above a size budget (runtime `re2.max_program_size`). */
export const MAX_REGEX_LENGTH = 256;

/** RE2 rejects counted repetitions above 1000. */
const MAX_REPEAT = 1000;

/** Returns null when the pattern is acceptable, else what is wrong. */
export function checkRe2(pattern: string): string | null {
  if (pattern.length === 0) return 'must not be empty';
  if (pattern.length > MAX_REGEX_LENGTH) return `regex is longer than ${MAX_REGEX_LENGTH} characters (Envoy's RE2 program-size limit)`;
  const unsupported = findUnsupported(pattern);
  if (unsupported) return `${unsupported} is not supported by RE2 (Envoy's regex engine)`;
  try {
    new RegExp(toJsSyntax(pattern), flagsOf(pattern));
  } catch (e) {
    return `invalid regex: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`;
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

/** RE2 spellings JavaScript does not know: `(?P<name>`, leading `(?i)` flag groups, `(?i:` groups. */
function toJsSyntax(p: string): string {
  return p
    .replace(/^\(\?[imsU]+\)/, '')
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?[imsU-]+:/g, '(?:');
}

function flagsOf(p: string): string {
  const m = /^\(\?([imsU]+)\)/.exec(p);
  if (!m) return '';
  return [...new Set((m[1] ?? '').replace(/U/g, '').split(''))].join('');
}
