import test from 'ava';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { PktmarkError, type ErrorCode } from '../../src/errors.js';

test('cheat-sheet rules normalize', (t) => {
  t.deepEqual(normalizeRule({ src: '10.0.0.1', mark: 0xdeadbeef }), {
    via: 'nft', family: 'ip', src: { family: 'ip', address: '10.0.0.1', prefix: 32, negate: false }, hook: 'prerouting', mark: 0xdeadbeef, mask: 0xffffffff,
  } as never);
  const v6 = normalizeRule({ family: 'ip6', src: '2001:0db8::1', mark: '0xdeadbeef' });
  t.is(v6.src?.address, '2001:db8::1');
  const lim = normalizeRule({ src: '10.0.0.1', mark: 0xdeadbeef, rate: '1/second', burst: 1 });
  t.deepEqual(lim.rate, { rate: 1, unit: 'second', burst: 1 });
  t.deepEqual(normalizeRule({ mark: '0x10/0xf0' }).mask, 0xf0 as never);
  t.is(normalizeRule({ mark: 0x10, mask: 0xf0 }).mark, 0x10 as never);
  t.is(normalizeRule({ mark: 5, rate: '3/m' }).rate?.burst, 5, 'burst defaults to 5 like nft and iptables');
  t.is(normalizeRule({ src: '!10.0.0.0/8', mark: 1 }).src?.negate, true);
  t.is(normalizeRule({ mark: 1, xor: true, mask: 0 }).xor, true);
  t.is(normalizeRule({ via: 'tc', dev: 'eth0', src: '10.0.0.1', mark: 1 }).direction, 'ingress');
  t.is(normalizeRule({ proto: 'TCP', dport: '22', mark: 1 }).proto, 6);
  t.is(normalizeRule({ iif: 'eth+', mark: 1 }).iif, 'eth+' as never);
});

const bad: [string, MarkRuleInput | unknown, ErrorCode, string][] = [
  ['mark not a number', { mark: '0x1g' }, 'INVALID_MARK', 'mark'],
  ['mark above u32', { mark: 4294967296 }, 'MARK_RANGE', 'mark'],
  ['mark negative', { mark: -1 }, 'MARK_RANGE', 'mark'],
  ['mark fractional', { mark: 1.5 }, 'INVALID_MARK', 'mark'],
  ['mark missing', { src: '10.0.0.1' }, 'INVALID_MARK', 'mark'],
  ['mask not a number', { mark: 1, mask: 'ff' }, 'INVALID_MASK', 'mask'],
  ['mark outside mask', { mark: '0x11/0xf0' }, 'MASK_MISMATCH', 'mark'],
  ['mask twice', { mark: '0x10/0xf0', mask: 0xf0 }, 'INVALID_MASK', 'mask'],
  ['bad cidr', { src: '10.0.0.300', mark: 1 }, 'INVALID_CIDR', 'src'],
  ['prefix too long', { src: '10.0.0.1/33', mark: 1 }, 'INVALID_CIDR', 'src'],
  ['family mismatch', { family: 'ip6', src: '10.0.0.1', mark: 1 }, 'FAMILY_MISMATCH', 'src'],
  ['src/dst families differ', { src: '10.0.0.1', dst: '::1', mark: 1 }, 'FAMILY_MISMATCH', 'dst'],
  ['icmp in ip6', { family: 'ip6', proto: 'icmp', mark: 1 }, 'FAMILY_MISMATCH', 'proto'],
  ['unknown proto', { proto: 'tcpp', mark: 1 }, 'INVALID_PROTO', 'proto'],
  ['proto out of range', { proto: 256, mark: 1 }, 'INVALID_PROTO', 'proto'],
  ['port without proto', { dport: 22, mark: 1 }, 'PORT_WITHOUT_PROTO', 'dport'],
  ['port with icmp', { proto: 'icmp', sport: 22, mark: 1 }, 'PORT_WITHOUT_PROTO', 'sport'],
  ['port out of range', { proto: 'tcp', dport: 70000, mark: 1 }, 'INVALID_PORT', 'dport'],
  ['port not a number', { proto: 'tcp', dport: 'ssh', mark: 1 }, 'INVALID_PORT', 'dport'],
  ['ifname too long', { iif: 'a-very-long-ifname', mark: 1 }, 'INVALID_IFNAME', 'iif'],
  ['ifname with slash', { iif: 'a/b', mark: 1 }, 'INVALID_IFNAME', 'iif'],
  ['ifname wildcard inside', { iif: 'e+th', mark: 1 }, 'INVALID_IFNAME', 'iif'],
  ['oif in prerouting', { oif: 'eth0', mark: 1 }, 'INVALID_OPTION', 'oif'],
  ['iif in output', { hook: 'output', iif: 'eth0', mark: 1 }, 'INVALID_OPTION', 'iif'],
  ['bad rate unit', { rate: '1/week', mark: 1 }, 'INVALID_RATE', 'rate'],
  ['zero rate', { rate: '0/second', mark: 1 }, 'INVALID_RATE', 'rate'],
  ['rate not N/unit', { rate: 'fast', mark: 1 }, 'INVALID_RATE', 'rate'],
  ['zero burst', { rate: '1/second', burst: 0, mark: 1 }, 'INVALID_BURST', 'burst'],
  ['negative burst', { rate: '1/second', burst: -3, mark: 1 }, 'INVALID_BURST', 'burst'],
  ['burst without rate', { burst: 3, mark: 1 }, 'INVALID_OPTION', 'burst'],
  ['comment too long', { comment: 'x'.repeat(129), mark: 1 }, 'INVALID_COMMENT', 'comment'],
  ['comment with NUL', { comment: 'a\0b', mark: 1 }, 'INVALID_COMMENT', 'comment'],
  ['unknown hook', { hook: 'forward', mark: 1 }, 'INVALID_HOOK', 'hook'],
  ['unknown family', { family: 'arp', mark: 1 }, 'INVALID_FAMILY', 'family'],
  ['unknown field', { mark: 1, sorce: '10.0.0.1' }, 'INVALID_OPTION', 'sorce'],
  ['tc without dev', { via: 'tc', mark: 1 }, 'INVALID_OPTION', 'dev'],
  ['tc with hook', { via: 'tc', dev: 'eth0', hook: 'output', mark: 1 }, 'INVALID_OPTION', 'hook'],
  ['nft with dev field', { via: 'nft', dev: 'eth0', mark: 1 }, 'INVALID_OPTION', 'dev'],
  ['bad via', { via: 'iptables', mark: 1 }, 'INVALID_OPTION', 'via'],
  ['tc prio 0', { via: 'tc', dev: 'eth0', prio: 0, mark: 1 }, 'INVALID_OPTION', 'prio'],
  ['tc bad direction', { via: 'tc', dev: 'eth0', direction: 'up', mark: 1 }, 'INVALID_OPTION', 'direction'],
];

for (const [name, input, code, field] of bad) {
  test(`refused: ${name} → ${code} (${field})`, (t) => {
    const e = t.throws(() => normalizeRule(input as MarkRuleInput), { instanceOf: PktmarkError });
    t.is(e?.code, code, e?.message);
    t.is(e?.field, field);
  });
}

test('iptables corner cases: a bare "+" interface matches any; "V/M/x" is not a mark', (t) => {
  t.is(normalizeRule({ iif: '+', mark: 1 }).iif, undefined);
  t.is(normalizeRule({ hook: 'output', oif: '+', mark: 1 }).oif, undefined);
  const e = t.throws(() => normalizeRule({ mark: '0x1/0xff/junk' }), { instanceOf: PktmarkError });
  t.is(e?.code, 'INVALID_MARK');
});
