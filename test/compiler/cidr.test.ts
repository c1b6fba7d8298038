/** CIDR canonicalisation and containment (table tests). */
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
    ['::ffff:192.0.2.0/120', '::ffff:c000:200/120'],
    ['fe80::/10', 'fe80::/10'],
  ])('%s → %s', (input, canonical) => {
    const r = parseCidr(input);
    expect(r).toEqual({ ok: true, network: expect.objectContaining({ cidr: canonical }) });
  });

  test.each([
    ['203.0.113.7/24', '"203.0.113.7/24" has host bits set; did you mean 203.0.113.0/24?'],
    ['2001:db8::1/32', '"2001:db8::1/32" has host bits set; did you mean 2001:db8::/32?'],
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
  ])('%s contains %s: %s', (outer, inner, expected) => {
    expect(networkContains(net(outer), net(inner))).toBe(expected);
  });
});

test('canonicalAddress', () => {
  expect(canonicalAddress('2001:DB8:0:0:0:0:0:10')).toBe('2001:db8::10');
  expect(canonicalAddress('10.0.0.1')).toBe('10.0.0.1');
  expect(canonicalAddress('accounts.internal')).toBe('accounts.internal');
});
