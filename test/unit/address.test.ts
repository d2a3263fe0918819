import test from 'ava';
import fc from 'fast-check';
import { canonicalIPv4, canonicalIPv4Prefix, parseCidr, parseIPv4, formatIPv6, parseIPv6, formatCidr } from '../../codecs/address.js';
import { PktmarkError } from '../../codecs/errors.js';

test('IPv4 and prefixes normalize host bits', (t) => {
  t.deepEqual(parseCidr('10.0.0.1'), { family: 'ip', address: '10.0.0.1', prefix: 32 });
  t.deepEqual(parseCidr('10.1.2.3/20'), { family: 'ip', address: '10.1.0.0', prefix: 20 });
  t.deepEqual(parseCidr('0.0.0.0/0'), { family: 'ip', address: '0.0.0.0', prefix: 0 });
});

test('IPv6 text is RFC 5952', (t) => {
  t.deepEqual(parseCidr('2001:0db8::1'), { family: 'ip6', address: '2001:db8::1', prefix: 128 });
  t.is(parseCidr('2001:db8:0:0:1:0:0:1').address, '2001:db8::1:0:0:1');
  t.is(parseCidr('::ffff:10.0.0.1').address, '::ffff:a00:1');
  t.is(parseCidr('fd00::1/64').address, 'fd00::');
  t.is(formatCidr(parseCidr('fd00::1/64')), 'fd00::/64');
});

for (const bad of ['10.0.0.300', '10.0.0.1/33', '10.0.0', '1.2.3.4.5', '::1::2', '2001:db8::1/129', 'x', '', '10.0.0.1/', '10.0.0.1/a', '1:2:3:4:5:6:7:8:9', 'g::1']) {
  test(`bad address ${JSON.stringify(bad)} is INVALID_CIDR`, (t) => {
    const e = t.throws(() => parseCidr(bad, 'src'), { instanceOf: PktmarkError });
    t.is(e?.code, 'INVALID_CIDR');
    t.is(e?.field, 'src');
  });
}

test('property: IPv6 format/parse round trip', (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
    return Buffer.compare(Buffer.from(parseIPv6(formatIPv6(b))), Buffer.from(b)) === 0;
  }));
  t.pass();
});

test('canonicalIPv4 (the bulk fast path) agrees with parseCidr: a u32 exactly when parseCidr keeps the text as a /32', (t) => {
  const quad = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 999 }), fc.boolean())
    .map(([a, b, c, d, pad]) => `${pad ? '0' : ''}${a}.${b}.${c}.${d}`);
  const noise = fc.stringMatching(/^[0-9.:/ !x]{0,18}$/);
  fc.assert(fc.property(fc.oneof(quad, noise), (s) => {
    const v = canonicalIPv4(s);
    let c: ReturnType<typeof parseCidr> | undefined;
    try { c = parseCidr(s); } catch { c = undefined; }
    const plain = c !== undefined && c.family === 'ip' && c.prefix === 32 && c.address === s;
    if (v < 0) return !plain;
    const bytes = parseIPv4(s);
    return plain && v === ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  }), { numRuns: 5000 });
  t.pass();
});

test('canonicalIPv4Prefix (the bulk quad/len path) gives what the careful parser gives, or declines', (t) => {
  const prefixed = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }),
    fc.constantFrom('', '0', '00', '+', ' '), fc.integer({ min: 0, max: 40 }), fc.boolean())
    .map(([a, b, c, d, lead, p, zero]) => `${zero ? '0' : ''}${a}.${b}.${c}.${d}/${lead}${p}`);
  const noise = fc.stringMatching(/^[0-9./ ]{0,20}$/);
  fc.assert(fc.property(fc.oneof(prefixed, noise), (s) => {
    const quick = canonicalIPv4Prefix(s);
    // a leading space takes parseCidr's careful path (it trims), which the quick path never does
    let careful: ReturnType<typeof parseCidr> | undefined;
    try { careful = parseCidr(` ${s}`); } catch { careful = undefined; }
    if (quick === undefined) return true;
    t.deepEqual(quick, careful, s);
    t.deepEqual(parseCidr(s), careful, s);
    return true;
  }), { numRuns: 5000 });
  t.deepEqual(canonicalIPv4Prefix('10.1.2.3/20'), { family: 'ip', address: '10.1.0.0', prefix: 20 });
  t.deepEqual(canonicalIPv4Prefix('10.1.2.3/32'), { family: 'ip', address: '10.1.2.3', prefix: 32 });
  t.deepEqual(canonicalIPv4Prefix('255.255.255.255/0'), { family: 'ip', address: '0.0.0.0', prefix: 0 });
  for (const declined of ['010.0.0.1/8', '10.0.0.1/033', '10.0.0.1/', '10.0.0.1/+8', '10.0.0.1/8 ', '1.2.3.4/33', '10.0.0.1', '1.2.3/8']) t.is(canonicalIPv4Prefix(declined), undefined, declined);
});
