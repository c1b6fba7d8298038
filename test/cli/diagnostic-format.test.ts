/** formatDiagnostic prints every diagnostic on one line: file names quoted and escaped when odd, controls escaped everywhere. */
import { formatDiagnostic, printableFileName } from '../../compiler/result';

const at = (file: string, message = 'm') => formatDiagnostic({ file, line: 1, column: 2, subject: 'Route/r', path: 'spec.x', message });

test.each([
  ['policies/a.yaml', 'policies/a.yaml'],
  ['policies/café.yaml', 'policies/café.yaml'],
  ['policies/a\nerror b.yaml', '"policies/a\\nerror b.yaml"'],
  ['policies/\u001b[31mred.yaml', '"policies/\\x1b[31mred.yaml"'],
  ['policies/caf\udce9.yaml', '"policies/caf\\xe9.yaml"'], // the byte 0xE9, not UTF-8 (as the readers carry it)
  ['policies/\u0085.yaml', '"policies/\\u{85}.yaml"'], // U+0085 (NEL), a different name from the byte 0x85
  ['policies/evil\u202egnp.yaml', '"policies/evil\\u{202e}gnp.yaml"'],
  ['policies/back\\slash "q".yaml', '"policies/back\\\\slash \\"q\\".yaml"'],
  ['policies/😀.yaml', 'policies/😀.yaml'],
])('printableFileName(%j) = %s', (name, printed) => {
  expect(printableFileName(name)).toBe(printed);
});

test('subject, field path and message are escaped too: a diagnostic is always one line', () => {
  const line = formatDiagnostic({ file: 'a.yaml', line: 3, column: 4, subject: 'Route/x', path: 'spec.y', message: 'unknown kind "x\nerror forged.yaml:1:1 y"\r\u2028' });
  expect(line).toBe('a.yaml:3:4 Route/x spec.y: unknown kind "x\\nerror forged.yaml:1:1 y"\\r\\u{2028}');
  expect(at('b.yaml')).toBe('b.yaml:1:2 Route/r spec.x: m');
});
