/**
 * The fronts' parsers without a kernel: cheat-sheet lines → the rule model, the MARK target
 * options → mark/mask/xor, tc words → rules, and errors that name the word and its position.
 */
import test from 'ava';
import { parseIptables, type XtCommand } from '../../src/cli/fronts/iptables.js';
import { parseTc, type TcCommand } from '../../src/cli/fronts/tc.js';
import { UsageError } from '../../src/cli/errors.js';
import { PktmarkError } from '../../src/errors.js';
import { normalizeRule } from '../../src/normalize.js';
import type { MarkRuleInput } from '../../src/rule.js';
import { main } from '../../src/cli/main.js';

const split = (s: string): string[] => s.split(' ');
/** The rule a parsed command carries; a command without one (help, list, flush) fails the test. */
function ruleOf(c: XtCommand | TcCommand): MarkRuleInput {
  if (!('rule' in c)) throw new Error(`no rule in ${JSON.stringify(c)}`);
  return c.rule;
}
const rule = (line: string, fam: 'ip' | 'ip6' = 'ip') => normalizeRule(ruleOf(parseIptables(split(line), fam)));

test('cheat sheet: iptables -s 10.0.0.1 -j MARK --set-mark 0xdeadbeef', (t) => {
  const c = parseIptables(split('-t raw -A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0xdeadbeef'), 'ip');
  t.is(c.op, 'append');
  t.deepEqual(normalizeRule(ruleOf(c)), normalizeRule({ family: 'ip', src: '10.0.0.1', mark: 0xdeadbeef, hook: 'prerouting' }));
});

test('cheat sheet: ip6tables and the limit line', (t) => {
  t.deepEqual(rule('-t raw -A PREROUTING -s 2001:0db8::1 -j MARK --set-mark 0xdeadbeef', 'ip6'), normalizeRule({ src: '2001:db8::1', mark: 0xdeadbeef }));
  t.deepEqual(rule('-t raw -A PREROUTING -s 10.0.0.1 -m limit --limit 1/s --limit-burst 1 -j MARK --set-mark 0xdeadbeef'),
    normalizeRule({ src: '10.0.0.1', mark: 0xdeadbeef, rate: '1/second', burst: 1 }));
});

test('MARK target options map onto (old & ~mask) ^ mark', (t) => {
  const m = (opt: string) => { const r = rule(`-t mangle -A OUTPUT -j MARK ${opt}`); return [r.mark, r.mask, r.xor === true]; };
  t.deepEqual(m('--set-mark 0x10'), [0x10, 0xffffffff, false]);
  t.deepEqual(m('--set-mark 0x10/0xf0'), [0x10, 0xf0, false]);
  t.deepEqual(m('--set-mark 0x1/0xf0'), [0x1, 0xf1, false], 'iptables widens the mask by the value');
  t.deepEqual(m('--set-xmark 0x1ff/0xff'), [0x1ff, 0xff, true]);
  t.deepEqual(m('--and-mark 0xff'), [0, 0xffffff00, false]);
  t.deepEqual(m('--or-mark 0x10'), [0x10, 0x10, false]);
  t.deepEqual(m('--xor-mark 0x10'), [0x10, 0, true]);
});

test('matches and options: ! -s, -p tcp --dport, -m tcp, -i, -o, -m comment, long options, -w', (t) => {
  const r = rule('-w -t mangle --append PREROUTING ! -s 10.0.0.0/8 -p tcp -m tcp --dport 443 -i eth0 -m comment --comment "x" -j MARK --set-mark 1');
  t.like(r, { src: { address: '10.0.0.0', prefix: 8, negate: true }, proto: 6, dport: 443, iif: 'eth0', comment: '"x"' });
  const o = rule('-t raw -A OUTPUT -d 10.0.0.1 -o eth1 -j MARK --set-mark 1');
  t.like(o, { hook: 'output', oif: 'eth1' });
  t.like(rule('-A PREROUTING -m limit -j MARK --set-mark 1'), { rate: { rate: 3, unit: 'hour', burst: 5 } }, 'iptables default limit');
  t.like(rule('-A PREROUTING -m limit --limit 5/minute -j MARK --set-mark 1'), { rate: { rate: 5, unit: 'minute' } });
});

test('-I, -D spec, -D N, -F, -L', (t) => {
  t.like(parseIptables(split('-I PREROUTING -s 10.0.0.1 -j MARK --set-mark 1'), 'ip'), { op: 'insert', index: 1 });
  t.like(parseIptables(split('-I PREROUTING 3 -s 10.0.0.1 -j MARK --set-mark 1'), 'ip'), { op: 'insert', index: 3 });
  t.like(parseIptables(split('-t raw -D PREROUTING -s 10.0.0.1 -j MARK --set-mark 1'), 'ip'), { op: 'delete-spec', hook: 'prerouting' });
  t.like(parseIptables(split('-t raw -D OUTPUT 2'), 'ip'), { op: 'delete-index', hook: 'output', index: 2 });
  // -t names the iptables table: -F and -L act on that table's chains only (each has its own now)
  t.deepEqual(parseIptables(split('-t raw -F'), 'ip'), { op: 'flush', table: 'raw' });
  t.deepEqual(parseIptables(split('-F'), 'ip'), { op: 'flush' });
  t.deepEqual(parseIptables(split('-t raw -L PREROUTING -n -v'), 'ip'), { op: 'list', table: 'raw', hook: 'prerouting', verbose: true });
});

test('errors name the word and its position, with exit 2 for usage', (t) => {
  const e = t.throws(() => parseIptables(split('-t raw -A PREROUTING -m conntrack --ctstate NEW -j MARK --set-mark 1'), 'ip'), { instanceOf: UsageError });
  t.is(e!.message, "unsupported word 'conntrack' at position 6");
  t.is(e!.code, 'UNSUPPORTED');
  t.is(t.throws(() => parseIptables(split('-t nat -A PREROUTING -j MARK --set-mark 1'), 'ip'))!.message, "unsupported word 'nat' at position 2");
  t.is(t.throws(() => parseIptables(split('-A INPUT -j MARK --set-mark 1'), 'ip'))!.message, "unsupported word 'INPUT' at position 2");
  t.is(t.throws(() => parseIptables(split('-A PREROUTING -j DROP'), 'ip'))!.message, "unsupported word 'DROP' at position 4");
  t.is(t.throws(() => parseTc(split('filter add dev eth0 parent ffff: protocol ip u32 match ip tos 0x10 0xff action skbedit mark 1')))!.message, "unsupported word 'tos' at position 12");
  t.is(t.throws(() => parseTc(split('filter add dev eth0 parent ffff: protocol ip u32 match ip src 10.0.0.1 action gact drop')))!.message, "unsupported word 'gact' at position 15");
});

test('tc: the cheat-sheet filter line and qdisc lines', (t) => {
  const c = parseTc(split('filter add dev eth0 parent ffff: protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef'));
  t.is(c.op, 'filter-add');
  t.deepEqual(normalizeRule(ruleOf(c)), normalizeRule({ via: 'tc', dev: 'eth0', direction: 'ingress', family: 'ip', prio: 1, src: '10.0.0.1', mark: 0xdeadbeef }));
  t.deepEqual(parseTc(split('qdisc add dev eth0 clsact')), { op: 'qdisc-add', dev: 'eth0', kind: 'clsact' });
  t.deepEqual(parseTc(split('qdisc del dev eth0 ingress')), { op: 'qdisc-del', dev: 'eth0', kind: 'ingress' });
  const p = parseTc(split('filter add dev d0 egress protocol ipv6 prio 7 u32 match ip6 src 2001:db8::/36 match ip6 protocol 17 0xff match ip6 dport 80 0xffff action police pkts_rate 2 pkts_burst 3 conform-exceed pass/pipe action skbedit mark 0x1/0xf'));
  t.like(normalizeRule(ruleOf(p)), { direction: 'egress', family: 'ip6', prio: 7, proto: 17, dport: 80, mark: 1, mask: 0xf, rate: { rate: 2, unit: 'second', burst: 3 } });
  t.like(parseTc(split('filter del dev eth0 parent ffff: prio 1')), { op: 'filter-del', dev: 'eth0', direction: 'ingress', prio: 1 });
});

function io() { const out: string[] = [], err: string[] = []; return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } }; }

test('main: --help, CMD --help, --version, unknown command', async (t) => {
  for (const args of [['--help'], ['add', '--help'], ['iptables', '-h'], ['tc', 'help'], ['help', 'doctor']]) {
    const o = io();
    t.is(await main(args, o.io), 0, args.join(' '));
    t.regex(o.out.join('\n'), /Usage|Examples|Example/, args.join(' '));
  }
  t.regex((await (async () => { const o = io(); await main(['iptables', '--help'], o.io); return o.out.join('\n'); })()), /own nftables table/i);
  const v = io();
  t.is(await main(['--version'], v.io), 0);
  t.regex(v.out[0], /^pktmark \d+\.\d+\.\d+/);
  // the restore fronts: their own help, and iptables-save's refusals (no kernel is opened for either)
  for (const args of [['iptables-restore', '--help'], ['ip6tables-restore', '-h'], ['iptables-save', '--help'], ['ip6tables-save', '-h']]) {
    const o = io();
    t.is(await main(args, o.io), 0, args.join(' '));
    t.regex(o.out.join('\n'), /^Usage: pktmark \[GLOBAL\] ip6?tables-(restore|save)/, args.join(' '));
  }
  for (const [args, code] of [[['iptables-save', '--bogus'], 'UNSUPPORTED --bogus'], [['iptables-save', '-t', 'nat'], 'UNSUPPORTED -t']] as const) {
    const o = io();
    t.is(await main(args, o.io), 2, args.join(' '));
    t.true(o.err[0]!.startsWith(`pktmark: ${code}`), o.err[0]);
  }
  const u = io();
  t.is(await main(['frobnicate'], u.io), 2);
  t.is(u.err[0], "pktmark: UNSUPPORTED frobnicate: unknown command 'frobnicate' at position 1 — see pktmark --help");
});

test('main: dry-run in-process prints the nft line; rule errors exit 1, usage errors exit 2', async (t) => {
  const o = io();
  t.is(await main(['--dry-run', 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '0xdeadbeef'], o.io), 0);
  t.deepEqual(o.out, ['nft add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0xdeadbeef']);
  const b = io();
  t.is(await main(['add', '--src', '10.0.0.300', '--mark', '1', '--dry-run'], b.io), 1);
  t.regex(b.err[0], /^pktmark: INVALID_CIDR src: /);
  const u = io();
  t.is(await main(['add', '--src', '10.0.0.1', '--mark', '1', '--bogus', 'x'], u.io), 2);
  t.is(u.err[0], "pktmark: INVALID_OPTION --bogus: unknown option '--bogus' at position 6 for add — see pktmark add --help");
  t.true(PktmarkError !== undefined);
});
