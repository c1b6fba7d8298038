/**
 * The malformed X-Forwarded-For guard (compiler/envoy/xff.ts), evaluated in JavaScript the way
 * Envoy evaluates its routes: a request is refused when every matcher of one rule holds. Checked
 * against node:net's isIP, which accepts what inet_pton (Envoy's parser) accepts, zone ids aside:
 * the guard must never let through an entry Envoy cannot parse (the deny list would fail open), and
 * must let through every address a proxy writes. The same rules through a real Envoy:
 * access-hardening.test.ts.
 */
import { isIP } from 'node:net';
import { xffRejectRules, type XffRejectRule } from '../../compiler/envoy/xff';

/** What the routes see: the header as sent, with Envoy's peer address appended. */
function refused(rules: readonly XffRejectRule[], sent: string): boolean {
  const seen = `${sent},127.0.0.1`;
  return rules.some((rule) =>
    rule.matchers.every((m) => (m.regex === undefined ? seen.includes(m.contains as string) : new RegExp(m.regex).test(seen)) !== m.invert),
  );
}

/** The entry Envoy reads with `hops` trusted hops (getLastAddressFromXFF), trimmed; null when there is none. */
function trustedEntry(sent: string, hops: number): string | null {
  const parts = sent.split(',');
  if (parts.length < hops) return null;
  return (parts[parts.length - hops] as string).trim();
}

const parses = (entry: string | null): boolean => entry !== null && !entry.includes('%') && isIP(entry) !== 0;

/** A small deterministic generator: the test needs many inputs, not randomness. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

const rand = lcg(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const octet = () => String(Math.floor(rand() * 256));
const group = () => Math.floor(rand() * 65536).toString(16);
const ipv4 = () => [octet(), octet(), octet(), octet()].join('.');

/** IPv6 text in many spellings: full, compressed at a random run, upper case, embedded IPv4, zero runs. */
function ipv6(): string {
  const groups = Array.from({ length: 8 }, () => (rand() < 0.4 ? '0' : group()));
  const embed = rand() < 0.3;
  const body = embed ? groups.slice(0, 6) : groups;
  const tail = embed ? [ipv4()] : [];
  let text: string;
  if (rand() < 0.6) {
    const start = Math.floor(rand() * body.length);
    const length = 1 + Math.floor(rand() * (body.length - start));
    const head = body.slice(0, start).join(':');
    const rest = [...body.slice(start + length), ...tail].join(':');
    text = `${head}::${rest}`;
  } else text = [...body, ...tail].join(':');
  return rand() < 0.2 ? text.toUpperCase() : text;
}

/** Faults a proxy or an attacker could produce. */
const mutations: ReadonlyArray<(s: string) => string> = [
  (s) => s,
  (s) => `${s}:5555`,
  (s) => `[${s}]`,
  (s) => `[${s}]:443`,
  (s) => s.replace(/(^|[.:])(\d)(?=[.:]|$)/, '$10$2'),
  (s) => s.replace(/\d+/, (d) => String(Number(d) + 256)),
  (s) => `${s}.1`,
  (s) => s.replace(/[.:][^.:]*$/, ''),
  (s) => `${s}:1`,
  (s) => `1:${s}`,
  (s) => s.replace('::', ':::'),
  (s) => s.replace(':', '::'),
  (s) => `${s}%eth0`,
  (s) => s.replace(/[0-9a-f]/i, 'g'),
  (s) => s.replace(/[.:]/, ' '),
  (s) => ` ${s}\t`,
  (s) => `${s}00`,
  (s) => `0${s}`,
  () => '',
  () => 'garbage',
  () => 'unknown',
];

function sample(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(pick(mutations)(rand() < 0.45 ? ipv4() : ipv6()));
  return out;
}

describe.each([1, 2, 3, 16])('%i trusted hop(s)', (hops) => {
  const rules = xffRejectRules(hops);
  /** A header with `entry` as the trusted entry, preceded by a client-written one and followed by hops - 1 proxies. */
  const header = (entry: string) => ['203.0.113.9', entry, ...Array.from({ length: hops - 1 }, (_, i) => `10.0.0.${i + 1}`)].join(', ');

  test('never lets through an entry Envoy cannot parse (5,000 generated entries)', () => {
    const leaks = sample(5000).filter((entry) => !refused(rules, header(entry)) && !parses(trustedEntry(header(entry), hops)));
    expect(leaks).toEqual([]);
  });

  test('lets through what Envoy parses, except the two documented forms no proxy writes', () => {
    const documented = (e: string) => (e.match(/:/g) ?? []).length >= 8 || (e.includes('.') && !e.startsWith(':') && (e.match(/:/g) ?? []).length >= 7);
    const refusedValid = sample(5000).filter((e) => parses(trustedEntry(header(e), hops)) && refused(rules, header(e)) && !documented(e.trim()));
    expect(refusedValid).toEqual([]);
  });

  test.each([
    '198.51.100.7',
    '0.0.0.0',
    '255.255.255.255',
    '2001:db8::1',
    '::',
    '::1',
    '::ffff:198.51.100.7',
    '::ffff:c633:6407',
    '0:0:0:0:0:ffff:198.51.100.7',
    '64:ff9b::198.51.100.7',
    '2001:DB8:0:0:0:0:0:1',
    'fe80::1:2:3:4:5:6',
    ' 198.51.100.7 ',
  ])('accepts %j', (entry) => {
    expect(refused(rules, header(entry))).toBe(false);
  });

  test.each(['198.51.100.7:5555', '198.51.100.007', '198.51.100.256', '198.51.100', '', ' ', 'garbage', '[2001:db8::1]', '[2001:db8::1]:443', 'fe80::1%eth0', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', '::ffff:198.51.100.07', '12345::', '1:2:3:4:5:6::1.2.3.4'])(
    'refuses %j',
    (entry) => {
      expect(refused(rules, header(entry))).toBe(true);
      expect(parses(trustedEntry(header(entry), hops))).toBe(false);
    },
  );

  test('a header with fewer entries than trusted hops is refused; no header at all is not', () => {
    if (hops > 1) expect(refused(rules, Array.from({ length: hops - 1 }, () => '10.0.0.1').join(','))).toBe(true);
    expect(rules.some((rule) => rule.matchers.every((m) => (m.regex === undefined ? '127.0.0.1'.includes(m.contains as string) : new RegExp(m.regex).test('127.0.0.1')) !== m.invert))).toBe(false);
  });
});

test('the trailing-separator cases of the issue: "198.51.100.7, " and "198.51.100.7,"', () => {
  const rules = xffRejectRules(1);
  expect(refused(rules, '198.51.100.7, ')).toBe(true);
  expect(refused(rules, '198.51.100.7,')).toBe(true);
});
