/**
 * Golden bytes: pktmark's tc messages against what /usr/sbin/tc sends for the same command
 * (fixtures/tc/*.json, made by fixtures/capture-tc.sh under strace). Whole messages are compared,
 * header included, after zeroing only the sequence number and port id. Documented differences:
 * - pktmark asks for NLM_F_ECHO on RTM_NEWTFILTER (to learn the priority and u32 handle the
 *   kernel chose); tc 6.1 has no -echo option, so that one flag bit is cleared before comparing.
 * - pktmark's filters carry the owner cookie; fixtures other than the verbatim cheat-sheet line
 *   give tc the same `cookie 706b746d61726b01` (…03 for egress), so the cookie attribute itself
 *   is golden too.
 * The device index is the capture's (recorded in each fixture) and passed to the encoder.
 */
import test from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { encodeNewFilter, encodeDelFilter, encodeGetFilters, type TcFilter } from '../../codecs/tc/filter.js';
import { encodeNewIngressQdisc, encodeDelIngressQdisc, encodeGetQdiscs } from '../../codecs/tc/qdisc.js';
import { encodeGetLinks } from '../../codecs/tc/link.js';
import { selector, TC_U32_TERMINAL } from '../../codecs/tc/classifiers/u32.js';
import { ETH_P_IP, PARENT_INGRESS } from '../../codecs/tc/constants.js';
import { ownerCookie, ruleToFilter } from '../../src/backends/tc/rule.js';
import { tcBackend } from '../../src/backends/tc/index.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { fixtureNames, loadFixture, type Fixture } from '../helpers/fixtures.js';

/** a tc capture; every one records d0's ifindex */
const load = (name: string): Fixture & { ifindex: number } => { const f = loadFixture('tc', name); if (f.ifindex === undefined) throw new Error(`${name}: no ifindex`); return { ...f, ifindex: f.ifindex }; };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** zero nlmsg_seq and nlmsg_pid of every message; optionally clear NLM_F_ECHO */
function norm(h: string, clearEcho = false): string {
  const b = Buffer.from(h, 'hex');
  for (const m of parseMessages(b)) {
    b.fill(0, m.offset + 8, m.offset + 16);
    if (clearEcho) b.writeUInt16LE(b.readUInt16LE(m.offset + 6) & ~0x08, m.offset + 6);
  }
  return b.toString('hex');
}
function enc(fill: (w: AttributeWriter) => void): string {
  const w = new AttributeWriter();
  fill(w);
  return hex(w.finish());
}
/** the request of a run: tc first dumps links (ll_init_map), then sends it */
const req = (f: Fixture, run = 0): string => f.runs[run].messages.at(-1)!;

function filterFor(input: Omit<MarkRuleInput, 'via' | 'dev'>, ifindex: number, opts: { qdisc?: 'ingress' | 'clsact'; cookie?: boolean } = {}): TcFilter {
  const rule = normalizeRule({ via: 'tc', dev: 'd0', ...input });
  return ruleToFilter(rule, { ifindex, qdisc: opts.qdisc ?? 'clsact', ...(opts.cookie === false ? {} : { cookie: ownerCookie(true, rule.direction) }) });
}

test('every fixture records its command and the tc version', (t) => {
  const names = fixtureNames('tc');
  t.true(names.length >= 10);
  for (const f of names) {
    const x = load(f);
    // (xdp-*.json hold `ip link set … xdp…`: IFLA_XDP is a link attribute, made by ip, not tc)
    t.regex(x.toolVersion, /^(tc|ip) utility, iproute2-/, f);
    for (const r of x.runs) { t.regex(r.command.join(' '), /^(\/usr\/sbin\/tc (qdisc|filter)|\/usr\/sbin\/ip link set) /, f); t.true(r.messages.length >= 1, `${f}: ${r.command.join(' ')}`); }
  }
});

test('cheat sheet verbatim: tc qdisc add dev X ingress + filter … parent ffff: … skbedit mark 0xdeadbeef', (t) => {
  const f = load('cheatsheet');
  t.is(norm(enc((w) => encodeNewIngressQdisc(w, 1, f.ifindex, 'ingress'))), norm(req(f, 0)));
  const filter = filterFor({ src: '10.0.0.1', mark: 0xdeadbeef, prio: 1 }, f.ifindex, { qdisc: 'ingress', cookie: false });
  t.is(norm(enc((w) => encodeNewFilter(w, 1, filter))), norm(req(f, 1)));
  // and what add() sends for it: the same bytes plus the echo flag and the owner cookie
  const mine = enc((w) => encodeNewFilter(w, 1, filterFor({ src: '10.0.0.1', mark: 0xdeadbeef, prio: 1 }, f.ifindex, { qdisc: 'ingress' }), { echo: true }));
  t.is(parseMessages(Buffer.from(mine, 'hex'))[0].header.flags, 0x060d);
  t.true(mine.includes('0c000600706b746d61726b01'), 'TCA_ACT_COOKIE "pktmark\\x01"');
});

test('clsact qdisc add and del', (t) => {
  const f = load('clsact-qdisc');
  t.is(norm(enc((w) => encodeNewIngressQdisc(w, 1, f.ifindex, 'clsact'))), norm(req(f, 0)));
  t.is(norm(enc((w) => encodeDelIngressQdisc(w, 1, f.ifindex, 'clsact'))), norm(req(f, 1)));
});

const CASES: [string, Omit<MarkRuleInput, 'via' | 'dev'>][] = [
  ['clsact-ingress', { src: '10.0.0.1', mark: 0xdeadbeef, prio: 1 }],
  ['clsact-egress', { dst: '10.0.0.1', mark: 0xdeadbeef, prio: 1, direction: 'egress' }],
  ['v6-src', { src: '2001:db8::1', mark: 0xdeadbeef, prio: 1 }],
  ['prefix24', { src: '10.0.0.0/24', mark: 0xdeadbeef, prio: 1 }],
  ['v6-prefix36-ports', { src: '2001:db8::/36', proto: 'udp', sport: 53, dport: 80, mark: 1, prio: 7 }],
  ['proto-dport', { family: 'ip', proto: 'tcp', dport: 80, mark: 0xdeadbeef, prio: 1 }],
  ['mark-mask', { src: '10.0.0.1', mark: '0x10/0xf0', prio: 1 }],
  ['police-rate', { src: '10.0.0.1', mark: 0xdeadbeef, prio: 1, rate: '1/second', burst: 1 }],
  ['match-all', { mark: 0x2a, prio: 3, direction: 'egress' }],
  // `match ip dport` without `match ip protocol`, as tc accepts it: no protocol key
  ['dport-only', { family: 'ip', dport: 53, mark: 0xdeadbeef, prio: 1 }],
  ['v6-sport-only', { family: 'ip6', sport: 53, mark: 7, prio: 2 }],
];
for (const [name, input] of CASES) {
  test(`filter add: ${name}`, (t) => {
    const f = load(name);
    const mine = enc((w) => encodeNewFilter(w, 1, filterFor(input, f.ifindex), { echo: true }));
    t.is(norm(mine, true), norm(req(f)), f.runs[0].command.join(' '));
  });
}

test('backend encodeAdd = tc qdisc add dev X clsact + tc filter add … ingress … cookie', (t) => {
  const q = load('clsact-qdisc'), fl = load('clsact-ingress');
  let seq = 0;
  const msgs = tcBackend.encodeAdd([normalizeRule({ via: 'tc', dev: 'd0', src: '10.0.0.1', mark: 0xdeadbeef, prio: 1 })], { table: 'pktmark', ifindex: () => 3, nextSeq: () => ++seq });
  t.is(msgs.length, 2);
  t.is(norm(hex(msgs[0])), norm(req(q, 0)));
  t.is(norm(hex(msgs[1]), true), norm(req(fl)));
});

test('filter without action, delete by handle and by prio, dumps', (t) => {
  const f = load('no-action');
  const ifindex = f.ifindex;
  const plain: TcFilter = {
    ifindex, parent: PARENT_INGRESS, prio: 1, protocol: ETH_P_IP, handle: 0,
    options: { kind: 'u32', sel: selector([{ mask: 0xffffffff, val: 0x0a000001, off: 12, offmask: 0 }]), extra: [] },
  };
  t.is(norm(enc((w) => encodeNewIngressQdisc(w, 1, ifindex, 'clsact'))), norm(req(f, 0)));
  t.is(norm(enc((w) => encodeNewFilter(w, 1, plain))), norm(req(f, 1)));
  t.is(norm(enc((w) => encodeDelFilter(w, 1, { ifindex, parent: PARENT_INGRESS, prio: 1, protocol: ETH_P_IP, handle: 0x80000800, kind: 'u32' }))), norm(req(f, 2)));
  t.is(norm(enc((w) => encodeDelFilter(w, 1, { ifindex, parent: PARENT_INGRESS, prio: 1, protocol: ETH_P_IP, handle: 0 }))), norm(req(f, 3)));
  t.is(norm(enc((w) => encodeGetFilters(w, 1, { ifindex, parent: PARENT_INGRESS }))), norm(req(f, 4)));
  t.is(norm(enc((w) => encodeGetQdiscs(w, 1))), norm(req(f, 5)));
  // tc's link dump (ll_init_map) that precedes every command
  t.is(norm(enc((w) => encodeGetLinks(w, 1))), norm(f.runs[5].messages[0]));
  t.is(TC_U32_TERMINAL, 1);
});
