/**
 * The RE2 verdict table, both directions, with exact messages and program sizes: test/compiler/re2
 * checks our check against it, test/envoy/regex-verdicts a sample of it against the real Envoy.
 */
import { MAX_PROGRAM_SIZE, MAX_REGEX_LENGTH } from '../../compiler/model/re2';

/** Patterns Envoy 1.40 accepts; the program size RE2 reports is part of the table (the limit is 100). */
export const ACCEPTED: readonly (readonly [string, number])[] = [
  ['^/orders/[0-9]+$', 6],
  ['^/api/v[12]/.*', 8],
  ['(?i)^/legacy/.*$', 6],
  ['^/(?P<tenant>[a-z]+)/items$', 14],
  ['^/(?<tenant>[a-z]+)/items$', 14],
  ['^/(?:a|b)+$', 6],
  ['[\\(\\)]', 5],
  ['[(?=x)]', 8],
  ['\\pL', 11],
  ['\\p{L}+', 12],
  // Envoy compiles the pattern's UTF-8 bytes as Latin-1 text: no Greek letter is a Latin-1 character.
  ['\\p{Greek}', 1],
  // JavaScript refuses these, RE2 (and so Envoy) accepts them.
  ['^/(?i)abc', 7],
  ['^/(?s).x', 6],
  ['^/(?U)a*', 5],
  ['a(?i:B)(?-i)c', 7],
  ['(?i)caf\\x{e9}', 9],
  ['\\Q.*\\E', 6],
  // The largest program Envoy takes, and literal text after ^ (RE2 matches it as a prefix, not a program).
  ['^/[a-z]{96}$', 100],
  ['^/.{48}$', 100],
  [`^/${'a'.repeat(500)}`, 4],
];

/** Patterns Envoy 1.40 refuses, with our message. */
export const REFUSED: readonly (readonly [string, string])[] = [
  ['\\u00e9', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\u"],
  ['\\Z', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\Z"],
  ['\\cA', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\c"],
  ['\\e', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\e"],
  ['\\R', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\R"],
  ['\\h', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\h"],
  ['\\N{U+0041}', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\N"],
  ['\\o{101}', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\o"],
  ['\\p{Script=Greek}', "RE2 (Envoy's regex engine) refuses it: invalid character class range: \\p{Script=Greek}"],
  ['[unclosed', "RE2 (Envoy's regex engine) refuses it: missing ]: [unclosed"],
  ['(open', "RE2 (Envoy's regex engine) refuses it: missing ): (open"],
  ['(a)\\1', "backreference \\1 is not supported by RE2 (Envoy's regex engine)"],
  ['(?<n>a)\\k<n>', "named backreference \\k<...> is not supported by RE2 (Envoy's regex engine)"],
  ['foo(?=bar)', "lookahead (?=...) is not supported by RE2 (Envoy's regex engine)"],
  ['foo(?!bar)', "negative lookahead (?!...) is not supported by RE2 (Envoy's regex engine)"],
  ['(?<=a)b', "lookbehind (?<=...) is not supported by RE2 (Envoy's regex engine)"],
  ['(?<!a)b', "negative lookbehind (?<!...) is not supported by RE2 (Envoy's regex engine)"],
  ['(?>a+)', "atomic group (?>...) is not supported by RE2 (Envoy's regex engine)"],
  ['a{1001}', "repetition count above 1000 ({1001}) is not supported by RE2 (Envoy's regex engine)"],
  ['a{2,5000}', "repetition count above 1000 ({2,5000}) is not supported by RE2 (Envoy's regex engine)"],
  ['a*+', "possessive quantifier is not supported by RE2 (Envoy's regex engine)"],
  ['^/[a-z]{97}$', sizeMessage(101)],
  ['^/[a-z]{99}$', sizeMessage(103)],
  ['^/x{1000}$', sizeMessage(1004)],
  ['^/.{49}$', sizeMessage(102)],
  ['^/.{90}$', sizeMessage(184)],
  ['(((a{10}){10}){10})', sizeMessage(1226)],
  ['\\d{1,1000}', sizeMessage(2003)],
  ['\\x{100}', "RE2 (Envoy's regex engine) refuses it: invalid escape sequence: \\x{100"],
  ['', 'must not be empty'],
  ['a'.repeat(MAX_REGEX_LENGTH + 1), `regex is longer than ${MAX_REGEX_LENGTH} characters`],
];

export function sizeMessage(size: number): string {
  return `RE2 program size ${size} is over Envoy's limit of ${MAX_PROGRAM_SIZE}: use fewer or smaller counted repetitions and classes (each repetition is compiled as copies)`;
}

