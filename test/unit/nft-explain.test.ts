/** explain(): the nft command for each rule shape (the golden test proves nft makes pktmark's bytes from it). */
import test from 'ava';
import { nftBackend } from '../../src/backends/nft/index.js';
import { explainNftSetup } from '../../src/backends/nft/explain.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';

const ex = (i: MarkRuleInput, table = 'pktmark'): string => nftBackend.explain(normalizeRule(i), { table });

test('cheat sheet lines', (t) => {
  t.is(ex({ src: '10.0.0.1', mark: 0xdeadbeef }), 'nft add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0xdeadbeef');
  t.is(ex({ family: 'ip6', src: '2001:0db8::1', mark: '0xdeadbeef' }), 'nft add rule inet pktmark prerouting ip6 saddr 2001:db8::1 counter meta mark set 0xdeadbeef');
  t.is(ex({ src: '10.0.0.1', mark: 0xdeadbeef, rate: '1/s', burst: 1 }),
    'nft add rule inet pktmark prerouting ip saddr 10.0.0.1 limit rate 1/second burst 1 packets counter meta mark set 0xdeadbeef');
});

test('limit without burst prints nft\'s default burst 5', (t) => {
  t.is(ex({ mark: 1, rate: '3/min' }), 'nft add rule inet pktmark prerouting limit rate 3/minute burst 5 packets counter meta mark set 0x1');
});

test('table name, hook, negation, prefixes', (t) => {
  t.is(ex({ hook: 'output', dst: '!10.0.0.0/8', mark: 2 }, 'mine'), 'nft add rule inet mine output ip daddr != 10.0.0.0/8 counter meta mark set 0x2');
  t.is(ex({ src: '10.1.2.3/20', mark: 2 }), 'nft add rule inet pktmark prerouting ip saddr 10.1.0.0/20 counter meta mark set 0x2');
});

test('family alone, proto alone, family + proto, unknown proto numbers', (t) => {
  t.is(ex({ family: 'ip', mark: 1 }), 'nft add rule inet pktmark prerouting meta nfproto ipv4 counter meta mark set 0x1');
  t.is(ex({ proto: 'icmpv6', mark: 1 }), 'nft add rule inet pktmark prerouting meta l4proto ipv6-icmp counter meta mark set 0x1');
  t.is(ex({ family: 'ip6', proto: 'udp', mark: 1 }), 'nft add rule inet pktmark prerouting meta nfproto ipv6 meta l4proto udp counter meta mark set 0x1');
  t.is(ex({ proto: 47, mark: 1 }), 'nft add rule inet pktmark prerouting meta l4proto 47 counter meta mark set 0x1');
});

test('ports with their protocol word', (t) => {
  t.is(ex({ proto: 'sctp', sport: 1, dport: 2, mark: 1 }), 'nft add rule inet pktmark prerouting sctp sport 1 sctp dport 2 counter meta mark set 0x1');
  t.is(ex({ proto: 'udplite', dport: 2, mark: 1 }), 'nft add rule inet pktmark prerouting udplite dport 2 counter meta mark set 0x1');
});

test('interfaces: exact, and the iptables "+" wildcard as nft "*"', (t) => {
  t.is(ex({ iif: 'eth0', mark: 1 }), 'nft add rule inet pktmark prerouting iifname "eth0" counter meta mark set 0x1');
  t.is(ex({ iif: 'veth+', mark: 1 }), 'nft add rule inet pktmark prerouting iifname "veth*" counter meta mark set 0x1');
  t.is(ex({ hook: 'output', oif: 'wg0', mark: 1 }), 'nft add rule inet pktmark output oifname "wg0" counter meta mark set 0x1');
});

test('marks: whole, V/M, xor', (t) => {
  t.is(ex({ mark: 0 }), 'nft add rule inet pktmark prerouting counter meta mark set 0x0');
  t.is(ex({ mark: '0x10/0xf0' }), 'nft add rule inet pktmark prerouting counter meta mark set meta mark and 0xffffff0f or 0x10');
  t.is(ex({ mark: 0x1ff, mask: 0xff, xor: true }), 'nft add rule inet pktmark prerouting counter meta mark set meta mark and 0xffffff00 xor 0x1ff');
  t.is(ex({ mark: 0, mask: 0 }), 'nft add rule inet pktmark prerouting counter meta mark set meta mark and 0xffffffff or 0x0');
});

test('comment goes last', (t) => {
  t.is(ex({ src: '10.0.0.1', mark: 1, comment: 'hello world' }), 'nft add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0x1 comment "hello world"');
});

test('setup lines for the table and chains', (t) => {
  t.deepEqual(explainNftSetup('pktmark', ['prerouting', 'output']), [
    'nft add table inet pktmark { comment "pktmark" ; }',
    'nft add chain inet pktmark prerouting { type filter hook prerouting priority raw ; }',
    'nft add chain inet pktmark output { type route hook output priority mangle ; }',
  ]);
});
