/**
 * decodePolicyFile, the one UTF-8 decoder both policy readers (directory and git) call: invalid
 * UTF-8 is refused at the first bad byte, with its line and column, instead of becoming U+FFFD.
 */
import { decodePolicyFile } from '../../compiler/model/text';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

test.each([
  ['a lone continuation byte', bytes('kind: Route\nname: caf', [0xa9], '\n'), 2, 10, '0xa9', 21],
  ['Latin-1 é', bytes('a: b\nc: "d', [0xe9], 'x"\n'), 2, 6, '0xe9', 10],
  ['a truncated sequence at the end', bytes('é ', [0xe2, 0x82]), 1, 3, '0xe2', 3],
  ['an overlong "/"', bytes('path: ', [0xc0, 0xaf]), 1, 7, '0xc0', 6],
  ['a UTF-8-encoded surrogate', bytes('x: ', [0xed, 0xa0, 0x80]), 1, 4, '0xed', 3],
  ['after a 4-byte character', bytes('😀', [0xff]), 1, 3, '0xff', 4],
])('%s is refused with its position', (_, input, line, column, byte, offset) => {
  const r = decodePolicyFile('p.yaml', input);
  expect(r).toEqual({
    ok: false,
    errors: [{ file: 'p.yaml', line, column, subject: '', path: '', message: `invalid UTF-8 (byte ${byte} at offset ${offset}): policy files must be UTF-8 text` }],
  });
});

test('valid UTF-8 decodes; a byte-order mark is dropped', () => {
  expect(decodePolicyFile('p.yaml', bytes([0xef, 0xbb, 0xbf], 'name: café 😀\n'))).toEqual({ ok: true, value: { path: 'p.yaml', text: 'name: café 😀\n' } });
});
