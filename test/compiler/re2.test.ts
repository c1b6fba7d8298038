/** RE2 compatibility of route and header regexes (table tests). */
import { checkRe2, MAX_REGEX_LENGTH } from '../../compiler/model/re2';

test.each([
  '^/orders/[0-9]+$',
  '^/api/v[12]/.*',
  '(?i)^/legacy/.*$',
  '^/(?P<tenant>[a-z]+)/items$',
  '^/(?:a|b)+$',
  '[\\(\\)]',
  '\\d{1,1000}',
  '[(?=x)]',
  '\\p{L}+',
])('accepted: %s', (pattern) => {
  expect(checkRe2(pattern)).toBeNull();
});

test.each([
  ['', 'must not be empty'],
  ['(a)\\1', 'backreference \\1 is not supported by RE2 (Envoy\'s regex engine)'],
  ['(?<n>a)\\k<n>', 'named backreference \\k<...> is not supported by RE2 (Envoy\'s regex engine)'],
  ['foo(?=bar)', 'lookahead (?=...) is not supported by RE2 (Envoy\'s regex engine)'],
  ['foo(?!bar)', 'negative lookahead (?!...) is not supported by RE2 (Envoy\'s regex engine)'],
  ['(?<=a)b', 'lookbehind (?<=...) is not supported by RE2 (Envoy\'s regex engine)'],
  ['(?<!a)b', 'negative lookbehind (?<!...) is not supported by RE2 (Envoy\'s regex engine)'],
  ['(?>a+)', 'atomic group (?>...) is not supported by RE2 (Envoy\'s regex engine)'],
  ['a{1001}', 'repetition count above 1000 ({1001}) is not supported by RE2 (Envoy\'s regex engine)'],
  ['a{2,5000}', 'repetition count above 1000 ({2,5000}) is not supported by RE2 (Envoy\'s regex engine)'],
  ['a*+', 'possessive quantifier is not supported by RE2 (Envoy\'s regex engine)'],
  ['[unclosed', 'invalid regex: /[unclosed/: Unterminated character class'],
  ['(open', 'invalid regex: /(open/: Unterminated group'],
  ['a'.repeat(MAX_REGEX_LENGTH + 1), `regex is longer than ${MAX_REGEX_LENGTH} characters (Envoy's RE2 program-size limit)`],
])('refused: %s', (pattern, message) => {
  expect(checkRe2(pattern)).toBe(message);
});
