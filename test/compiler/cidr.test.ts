/** CIDR canonicalisation and containment (table tests). */
import { ipv4MappedCidr } from '../../compiler/envoy/client-networks';
import { canonicalAddress, networkContains, parseCidr } from '../../compiler/model/cidr';

describe('parseCidr', () => {
  test.each([
    ['203.0.113.0/24', '203.0.113.0/24'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.168.1.7', '192.168.1.7/32'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0000:0000:0000:0000/32', '2001:db8::/32'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:db8:0:1:0:0:0:0/64', '2001:db8:0:1::/64'],
    // IPv4-mapped IPv6 networks are the IPv4 networks they stand for (Envoy sees IPv4 clients as IPv4).
    ['::ffff:192.0.2.0/120', '192.0.2.0/24'],
    ['::ffff:127.0.0.1/128', '127.0.0.1/32'],
    ['::ffff:127.0.0.1', '127.0.0.1/32'],
    ['::FFFF:7F00:1/128', '127.0.0.1/32'],
    ['0:0:0:0:0:ffff:c633:6400/120', '198.51.100.0/24'],
    ['::ffff:0.0.0.0/96', '0.0.0.0/0'],
    // Not mapped, or wider than the mapped range: stays IPv6.
    ['::fffe:0:0/95', '::fffe:0:0/95'],
    ['::fffe:c000:200/120', '::fffe:c000:200/120'],
    ['::c000:200/120', '::c000:200/120'],
    ['64:ff9b::c000:200/120', '64:ff9b::c000:200/120'],
    ['fe80::/10', 'fe80::/10'],
  ])('%s → %s', (input, canonical) => {
    const r = parseCidr(input);
    expect(r).toEqual({ ok: true, network: expect.objectContaining({ cidr: canonical }) });
  });

  test.each([
    ['203.0.113.7/24', '"203.0.113.7/24" has host bits set; did you mean 203.0.113.0/24?'],
    ['2001:db8::1/32', '"2001:db8::1/32" has host bits set; did you mean 2001:db8::/32?'],
    ['::ffff:192.0.2.7/120', '"::ffff:192.0.2.7/120" has host bits set; did you mean 192.0.2.0/24?'],
    ['10.0.0.0/33', '"10.0.0.0/33": prefix length must be 0-32'],
    ['::/129', '"::/129": prefix length must be 0-128'],
    ['10.0.0.0/08', '"10.0.0.0/08": prefix length must be 0-32'],
    ['10.0.0.0/', '"10.0.0.0/": prefix length must be 0-32'],
    ['10.0.0/8', '"10.0.0/8" is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24)'],
    ['256.0.0.0/8', '"256.0.0.0/8" is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24)'],
    ['example.com/24', '"example.com/24" is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24)'],
    ['fe80::1%eth0/64', '"fe80::1%eth0/64": a zone index (%...) is not allowed in a network'],
    ['', '"" is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24)'],
  ])('%s is refused', (input, message) => {
    expect(parseCidr(input)).toEqual({ ok: false, message });
  });
});

describe('networkContains', () => {
  const net = (text: string) => {
    const r = parseCidr(text);
    if (!r.ok) throw new Error(r.message);
    return r.network;
  };
  test.each([
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/8', '11.0.0.0/16', false],
    ['0.0.0.0/0', '203.0.113.9/32', true],
    ['2001:db8::/32', '2001:db8:1::/48', true],
    ['2001:db8::/32', '2001:db9::/48', false],
    ['::/0', '10.0.0.0/8', false],
    ['10.0.0.0/8', '::ffff:10.1.0.0/112', true],
    ['::ffff:10.0.0.0/104', '10.1.0.0/16', true],
  ])('%s contains %s: %s', (outer, inner, expected) => {
    expect(networkContains(net(outer), net(inner))).toBe(expected);
  });
});

test.each([
  ['192.0.2.0/24', '::ffff:192.0.2.0/120'],
  ['0.0.0.0/0', '::ffff:0.0.0.0/96'],
  ['203.0.113.9/32', '::ffff:203.0.113.9/128'],
  ['2001:db8::/32', null],
])('ipv4MappedCidr(%s) = %s', (cidr, mapped) => {
  expect(ipv4MappedCidr(cidr)).toBe(mapped);
});

test('canonicalAddress', () => {
  expect(canonicalAddress('2001:DB8:0:0:0:0:0:10')).toBe('2001:db8::10');
  expect(canonicalAddress('10.0.0.1')).toBe('10.0.0.1');
  expect(canonicalAddress('accounts.internal')).toBe('accounts.internal');
});
