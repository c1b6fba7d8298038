/**
 * RE2 check of route and header regexes, both directions, with exact messages: what Envoy's RE2
 * accepts must pass (flag groups JavaScript does not know), what it refuses must not (JS/PCRE-only
 * escapes, constructs RE2 lacks, programs over Envoy's size limit of 100). The table is re2-table.ts.
 */
import { checkRe2, compileRe2 } from '../../compiler/model/re2';
import { ACCEPTED, REFUSED } from './re2-table';

test.each(ACCEPTED)('accepted: %s (program size %d)', (pattern, size) => {
  expect(checkRe2(pattern)).toBeNull();
  expect(compileRe2(pattern).programSize).toBe(size);
});

test.each(REFUSED)('refused: %s', (pattern, message) => {
  expect(checkRe2(pattern)).toBe(message);
});
