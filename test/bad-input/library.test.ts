/**
 * Bad inputs through the library API — Marker.open/add/delete/list/clear, encode, explain —
 * each refused with its documented code (README's error table), against a live namespace whose
 * whole state (snapshot.ts) is the same before and after. The namespace holds something to lose:
 * a pktmark rule, a foreign nft table, a foreign tc filter and a clsact qdisc; a second
 * namespace holds a device the first one does not have.
 */
import { Marker, encode, explain, PktmarkError, type MarkRuleInput } from '../../src/index.js';
import { liveTest, withNetns, run, IP, type Netns } from '../helpers/netns.js';
import { snapshot } from './snapshot.js';

type Case = readonly [what: string, code: string, call: (m: Marker) => unknown];

const ESC = '\x1b[31m', RLO = '\u202e', LONG = 'x'.repeat(300);
const add = (r: Record<string, unknown>) => (m: Marker) => m.add(r as unknown as MarkRuleInput);
const enc = (r: Record<string, unknown>) => () => encode(r as unknown as MarkRuleInput);
const exp = (r: Record<string, unknown>) => () => explain(r as unknown as MarkRuleInput);

function cases(ns: Netns, other: Netns, foreignHandle: number, foreignTcId: string): Case[] {
  return [
    // types and ranges
    ['mark missing', 'INVALID_MARK', add({ src: '10.0.0.1' })],
    ['mark -1', 'MARK_RANGE', add({ mark: -1 })],
    ['mark 2^32', 'MARK_RANGE', add({ mark: 2 ** 32 })],
    ['mark 1.5', 'INVALID_MARK', add({ mark: 1.5 })],
    ['mark NaN', 'INVALID_MARK', add({ mark: NaN })],
    ['mark Infinity', 'INVALID_MARK', add({ mark: Infinity })],
    ['mark object', 'INVALID_MARK', add({ mark: {} })],
    ['mark array', 'INVALID_MARK', add({ mark: [1] })],
    ['mark "0x"', 'INVALID_MARK', add({ mark: '0x' })],
    ['mark with ESC', 'INVALID_MARK', add({ mark: `1${ESC}` })],
    ['mark with NUL', 'INVALID_MARK', add({ mark: '1\0' })],
    ['mark fullwidth digit', 'INVALID_MARK', add({ mark: '１' })],
    ['mask outside', 'MASK_MISMATCH', add({ mark: 0x10, mask: 0x0f })],
    ['mask -1', 'MARK_RANGE', add({ mark: 1, mask: -1 })],
    ['mask string junk', 'INVALID_MASK', add({ mark: 1, mask: 'ff' })],
    ['src number', 'INVALID_CIDR', add({ mark: 1, src: 10 })],
    ['src 10.0.0.256', 'INVALID_CIDR', add({ mark: 1, src: '10.0.0.256' })],
    ['src inner newline', 'INVALID_CIDR', add({ mark: 1, src: '10.0.\n0.1' })],
    ['src bidi', 'INVALID_CIDR', add({ mark: 1, src: `10.0.0.1${RLO}` })],
    ['src /-1', 'INVALID_CIDR', add({ mark: 1, src: '10.0.0.0/-1' })],
    ['dst v6 /129', 'INVALID_CIDR', add({ mark: 1, dst: '2001:db8::/129' })],
    ['src v4 dst v6', 'FAMILY_MISMATCH', add({ mark: 1, src: '10.0.0.1', dst: '2001:db8::1' })],
    ['family ip6 with v4', 'FAMILY_MISMATCH', add({ mark: 1, family: 'ip6', src: '10.0.0.1' })],
    ['family arp', 'INVALID_FAMILY', add({ mark: 1, family: 'arp' })],
    ['family 5', 'INVALID_FAMILY', add({ mark: 1, family: 5 })],
    ['proto bogus', 'INVALID_PROTO', add({ mark: 1, proto: 'bogus' })],
    ['proto 256', 'INVALID_PROTO', add({ mark: 1, proto: 256 })],
    ['proto ESC', 'INVALID_PROTO', add({ mark: 1, proto: `tcp${ESC}` })],
    ['dport without proto', 'PORT_WITHOUT_PROTO', add({ mark: 1, dport: 80 })],
    ['dport 65536', 'INVALID_PORT', add({ mark: 1, proto: 'tcp', dport: 65536 })],
    ['sport -1', 'INVALID_PORT', add({ mark: 1, proto: 'udp', sport: -1 })],
    ['dport "8\\n0"', 'INVALID_PORT', add({ mark: 1, proto: 'tcp', dport: '8\n0' })],
    ['rate 0/s', 'INVALID_RATE', add({ mark: 1, rate: '0/second' })],
    ['rate quotes', 'INVALID_RATE', add({ mark: 1, rate: '"1/s"' })],
    ['burst 0', 'INVALID_BURST', add({ mark: 1, rate: '1/second', burst: 0 })],
    ['burst huge', 'INVALID_BURST', add({ mark: 1, rate: '1/second', burst: 2 ** 40 })],
    ['hook input', 'INVALID_HOOK', add({ mark: 1, hook: 'input' })],
    ['hook ESC', 'INVALID_HOOK', add({ mark: 1, hook: ESC })],
    ['via bogus', 'INVALID_OPTION', add({ mark: 1, via: 'bogus' })],
    ['unknown field', 'INVALID_OPTION', add({ mark: 1, colour: 'red' })],
    // strings: NUL, newlines, quotes, non-ASCII, escapes, length
    ['comment NUL', 'INVALID_COMMENT', add({ mark: 1, comment: 'a\0b' })],
    ['comment 129 bytes', 'INVALID_COMMENT', add({ mark: 1, comment: 'x'.repeat(129) })],
    ['comment 43 × 3-byte chars (129 bytes)', 'INVALID_COMMENT', add({ mark: 1, comment: '日'.repeat(43) })],
    ['comment not a string', 'INVALID_COMMENT', add({ mark: 1, comment: 5 })],
    ['iif 16 bytes', 'INVALID_IFNAME', add({ mark: 1, iif: 'a'.repeat(16) })],
    ['iif 8 × é (16 bytes)', 'INVALID_IFNAME', add({ mark: 1, iif: 'é'.repeat(8) })],
    ['iif slash', 'INVALID_IFNAME', add({ mark: 1, iif: 'a/b' })],
    ['iif newline', 'INVALID_IFNAME', add({ mark: 1, iif: 'eth\n0' })],
    ['iif NUL', 'INVALID_IFNAME', add({ mark: 1, iif: 'eth\x000' })],
    ['iif ..', 'INVALID_IFNAME', add({ mark: 1, iif: '..' })],
    ['iif + inside', 'INVALID_IFNAME', add({ mark: 1, iif: 'e+th' })],
    ['oif on prerouting', 'INVALID_OPTION', add({ mark: 1, oif: 'lo' })],
    // conflicting options
    ['iif on output', 'INVALID_OPTION', add({ mark: 1, hook: 'output', iif: 'lo' })],
    ['tc with comment', 'UNSUPPORTED', add({ via: 'tc', dev: 'd0', mark: 1, comment: 'x' })],
    ['tc with hook', 'INVALID_OPTION', add({ via: 'tc', dev: 'd0', mark: 1, hook: 'output' })],
    ['nft with dev', 'INVALID_OPTION', add({ via: 'nft', mark: 1, dev: 'd0' })],
    ['tc direction sideways', 'INVALID_OPTION', add({ via: 'tc', dev: 'd0', mark: 1, direction: 'sideways' })],
    ['tc prio 0x10000', 'INVALID_OPTION', add({ via: 'tc', dev: 'd0', mark: 1, prio: 0x10000 })],
    ['mixed vias in one batch', 'INVALID_ARGUMENT', (m) => m.add([{ mark: 1 }, { via: 'tc', dev: 'd0', mark: 1 }])],
    ['before an id of another via', 'INVALID_OPTION', (m) => m.add({ mark: 1 }, { before: 'tc:d0:ingress:1:800::800' })],
    ['add options null', 'INVALID_OPTION', (m) => m.add({ mark: 1 }, null as never)],
    // devices
    ['tc on a missing device', 'NOT_FOUND', add({ via: 'tc', dev: 'nosuchdev', mark: 1 })],
    ['tc on a device of another namespace', 'NOT_FOUND', add({ via: 'tc', dev: 'o0', mark: 1 })],
    ['tc dev 16 bytes', 'INVALID_IFNAME', add({ via: 'tc', dev: 'd'.repeat(16), mark: 1 })],
    ['tc dev with ESC', 'NOT_FOUND', add({ via: 'tc', dev: `d${ESC}`, mark: 1 })],
    // ids: malformed, unknown, not pktmark's
    ['delete garbage id', 'INVALID_ID', (m) => m.delete('garbage')],
    ['delete id with ESC', 'INVALID_ID', (m) => m.delete(`nft:prerouting:${ESC}`)],
    ['delete handle -1', 'INVALID_ID', (m) => m.delete('nft:prerouting:-1')],
    ['delete chain input', 'INVALID_ID', (m) => m.delete('nft:input:5')],
    ['delete unknown handle', 'NOT_FOUND', (m) => m.delete('nft:prerouting:999999')],
    [`delete handle ${foreignHandle} of a foreign table's rule`, 'NOT_FOUND', (m) => m.delete(`nft:prerouting:${foreignHandle}`)],
    [`delete ${foreignTcId} (tc's own filter)`, 'NOT_OWNED', (m) => m.delete(foreignTcId)],
    ['delete tc id on a missing device', 'NOT_FOUND', (m) => m.delete('tc:nosuchdev:ingress:1:800::800')],
    ['delete tc id of another namespace device', 'NOT_FOUND', (m) => m.delete('tc:o0:ingress:1:800::800')],
    ['delete number', 'INVALID_ID', (m) => m.delete(5 as never)],
    ['list via bogus', 'INVALID_OPTION', (m) => m.list({ via: 'bogus' as never })],
    ['list via ESC', 'INVALID_OPTION', (m) => m.list({ via: ESC as never })],
    ['list options null', 'INVALID_OPTION', (m) => m.list(null as never)],
    ['clear via bogus', 'INVALID_OPTION', (m) => m.clear({ via: 'bogus' as never })],
    // Marker.open
    ['open netns ../x', 'INVALID_NETNS', () => Marker.open({ netns: '../x' })],
    ['open netns a/b', 'INVALID_NETNS', () => Marker.open({ netns: 'a/b' })],
    ['open netns ..', 'INVALID_NETNS', () => Marker.open({ netns: '..' })],
    ['open netns missing', 'INVALID_NETNS', () => Marker.open({ netns: 'pktmark-no-such-ns' })],
    ['open netns /etc/passwd', 'INVALID_NETNS', () => Marker.open({ netns: '/etc/passwd' })],
    ['open netns /dev/tty', 'INVALID_NETNS', () => Marker.open({ netns: '/dev/tty' })],
    ['open netns /proc/self/ns/mnt', 'INVALID_NETNS', () => Marker.open({ netns: '/proc/self/ns/mnt' })],
    ['open netns pid 0', 'INVALID_NETNS', () => Marker.open({ netns: 0 })],
    ['open netns NUL', 'INVALID_NETNS', () => Marker.open({ netns: `${ns.name}\0` })],
    ['open table with ESC', 'INVALID_OPTION', () => Marker.open({ netns: ns.name, table: `t${ESC}` })],
    ['open table 300 bytes', 'INVALID_OPTION', () => Marker.open({ netns: ns.name, table: LONG })],
    ['open table empty', 'INVALID_OPTION', () => Marker.open({ netns: ns.name, table: '' })],
    ['open timeout -1', 'INVALID_OPTION', () => Marker.open({ netns: ns.name, timeoutMs: -1 })],
    ['open options string', 'INVALID_OPTION', () => Marker.open('x' as never)],
    ['foreign table: add', 'NOT_OWNED', async () => { const m = await Marker.open({ netns: ns.name, table: 'other' }); try { await m.add({ mark: 1 }); } finally { await m.close(); } }],
    ['foreign table: clear', 'NOT_OWNED', async () => { const m = await Marker.open({ netns: ns.name, table: 'other' }); try { await m.clear({ via: 'nft' }); } finally { await m.close(); } }],
    ['closed marker', 'CLOSED', async () => { const m = await Marker.open({ netns: other.name }); await m.close(); await m.list(); }],
    // encode / explain: the same validation, no kernel
    ['encode mark 2^32', 'MARK_RANGE', enc({ mark: 2 ** 32 })],
    ['encode bad cidr', 'INVALID_CIDR', enc({ mark: 1, src: '1.2.3' })],
    ['encode comment NUL', 'INVALID_COMMENT', enc({ mark: 1, comment: '\0' })],
    ['encode table ESC', 'INVALID_OPTION', () => encode({ mark: 1 }, { table: ESC })],
    ['explain bad hook', 'INVALID_HOOK', exp({ mark: 1, hook: 'forward' })],
    ['explain iif too long', 'INVALID_IFNAME', exp({ mark: 1, iif: LONG })],
    ['explain null', 'INVALID_ARGUMENT', () => explain(null as never)],
  ];
}

liveTest('library API: 100+ bad inputs, each its documented code, namespace state unchanged', async (t) => {
  await withNetns(async (ns, other) => {
    run(IP, ['-n', ns.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    ns.ip('link', 'set', 'd0', 'up');
    run(IP, ['-n', other.name, 'link', 'add', 'o0', 'type', 'veth', 'peer', 'name', 'o1']);
    // things to lose: a pktmark rule, a foreign table with a rule, tc's own filter on a clsact qdisc
    const m = await Marker.open({ netns: ns.name });
    await m.add({ src: '10.0.0.1', mark: 0xdeadbeef, comment: 'keep me' });
    // a foreign rule whose handle pktmark's own table does not have
    ns.nftFile(`table inet other { chain prerouting { type filter hook prerouting priority 0; ${'counter; '.repeat(8)} ip saddr 10.9.9.9 counter; }; }\n`);
    const foreignHandle = Number(/# handle (\d+)/.exec(ns.nft('-a', 'list', 'chain', 'inet', 'other', 'prerouting').split('\n').find((l) => l.includes('10.9.9.9'))!)![1]);
    ns.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
    ns.tc('filter', 'add', 'dev', 'd0', 'ingress', 'prio', '7', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', '10.1.1.1/32');
    const foreignTcId = 'tc:d0:ingress:7:800::800';
    const list = cases(ns, other, foreignHandle, foreignTcId);
    t.true(list.length >= 100, `${list.length} cases`);
    const before = snapshot(ns);
    const problems: string[] = [];
    try {
      for (const [what, code, call] of list) {
        try {
          await call(m);
          problems.push(`${what}: no error`);
        } catch (e) {
          if (!(e instanceof PktmarkError)) problems.push(`${what}: ${String(e)}`);
          else if (e.code !== code) problems.push(`${what}: ${e.code} (${e.message}), expected ${code}`);
        }
      }
      t.deepEqual(problems, []);
      t.is(snapshot(ns), before, 'namespace state unchanged');
      t.is((await m.list()).length, 1, 'the pktmark rule is still there');
    } finally { await m.close(); }
  }, 2);
});
