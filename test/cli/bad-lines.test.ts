/**
 * Bad command lines, table-driven: each exits with its documented status (1 rule problem,
 * 2 usage problem), prints one line on stderr with its error code (and, for words the fronts
 * do not support, the word and its position), and leaves the kernel exactly as it was: the
 * throwaway namespace's nft ruleset, tc qdiscs and tc filters are compared before and after.
 */
import { liveTest, withNetns, run, IP, type Netns } from '../helpers/netns.js';
import { cli, pool } from './cli.js';

type Line = readonly [args: string, exit: 1 | 2, code: string, message?: RegExp];

const IPT = 'iptables -t raw -A PREROUTING';
const TCF = 'tc filter add dev d0 parent ffff: protocol ip prio 1 u32';
export const BAD: readonly Line[] = [
  ['add --src 10.0.0.1 --mark 1 --bogus x', 2, 'INVALID_OPTION', /unknown option '--bogus' at position 8/],
  ['add --src 10.0.0.1', 2, 'INVALID_OPTION', /add needs --mark/],
  ['add --mark 0x1g', 1, 'INVALID_MARK', /not a number/],
  ['add --mark 4294967296', 1, 'MARK_RANGE', /outside 0\.\.0xffffffff/],
  ['add --src 10.0.0.300 --mark 1', 1, 'INVALID_CIDR'],
  ['add --src 10.0.0.1/33 --mark 1', 1, 'INVALID_CIDR'],
  ['add --dport 80 --mark 1', 1, 'PORT_WITHOUT_PROTO'],
  ['add --proto tcp --dport 70000 --mark 1', 1, 'INVALID_PORT'],
  ['add --rate 0/s --mark 1', 1, 'INVALID_RATE'],
  ['add --rate 1/fortnight --mark 1', 1, 'INVALID_RATE'],
  ['add --rate 1/s --burst 0 --mark 1', 1, 'INVALID_BURST'],
  ['add --mark 0x10/0x0f', 1, 'MASK_MISMATCH'],
  ['add --iif averyveryverylongname --mark 1', 1, 'INVALID_IFNAME'],
  [`add --comment ${'x'.repeat(129)} --mark 1`, 1, 'INVALID_COMMENT'],
  ['add --hook input --mark 1', 1, 'INVALID_HOOK'],
  ['add --family ip6 --src 10.0.0.1 --mark 1', 1, 'FAMILY_MISMATCH'],
  ['add --via ebpf --mark 1', 1, 'INVALID_OPTION'],
  ['add --hook output --iif eth0 --mark 1', 1, 'INVALID_OPTION'],
  ['add 10.0.0.1 --mark 1', 2, 'UNSUPPORTED', /unsupported word '10\.0\.0\.1' at position 4/],
  ['add --mark 1 --mark 2', 2, 'INVALID_OPTION', /given twice/],
  ['add --table bad! --mark 1', 1, 'INVALID_OPTION', /table/],
  ['--hex add --mark 1', 2, 'INVALID_OPTION', /--hex needs --dry-run/],
  ['del nft:prerouting:999999', 1, 'NOT_FOUND'],
  ['del garbage', 1, 'INVALID_ID'],
  ['del', 2, 'INVALID_OPTION', /at least one rule ID/],
  ['frobnicate', 2, 'UNSUPPORTED', /unknown command 'frobnicate' at position 3/],
  ['--dry-run list', 2, 'UNSUPPORTED'],
  ['iptables -t nat -A PREROUTING -j MARK --set-mark 1', 2, 'UNSUPPORTED', /unsupported word 'nat' at position 2/],
  ['iptables -t raw -A INPUT -s 10.0.0.1 -j MARK --set-mark 1', 2, 'UNSUPPORTED', /unsupported word 'INPUT' at position 4/],
  [`${IPT} -s 10.0.0.1 -j DROP`, 2, 'UNSUPPORTED', /unsupported word 'DROP' at position 8/],
  [`${IPT} -m conntrack --ctstate NEW -j MARK --set-mark 1`, 2, 'UNSUPPORTED', /unsupported word 'conntrack' at position 6/],
  [`${IPT} -s 10.0.0.1`, 2, 'INVALID_OPTION', /needs -j MARK/],
  [`${IPT} -j MARK`, 2, 'INVALID_OPTION', /needs one of --set-mark/],
  [`${IPT} -j MARK --set-mark 0x1g`, 1, 'INVALID_MARK'],
  [`${IPT} -j MARK --set-mark 4294967296`, 1, 'MARK_RANGE'],
  [`${IPT} -s 10.0.0.300 -j MARK --set-mark 1`, 1, 'INVALID_CIDR'],
  [`${IPT} -s 10.0.0.1/33 -j MARK --set-mark 1`, 1, 'INVALID_CIDR'],
  // as iptables ("unknown option --dport"): port options exist only once -p tcp|udp|sctp (or -m tcp …) loaded them
  [`${IPT} --dport 80 -j MARK --set-mark 1`, 2, 'UNSUPPORTED', /unsupported word '--dport' at position 5/],
  [`${IPT} -p tcp --dport 70000 -j MARK --set-mark 1`, 1, 'INVALID_PORT'],
  [`${IPT} -p tcp --dport 100:1 -j MARK --set-mark 1`, 1, 'INVALID_PORT', /start above its end/],
  [`${IPT} -p tcp --dport 80,443 -j MARK --set-mark 1`, 2, 'UNSUPPORTED', /unsupported word '80,443' at position 8/],
  [`${IPT} -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j MARK --set-mark 1`, 2, 'INVALID_PORT', /too many ports/],
  [`${IPT} -p tcp -m multiport -j MARK --set-mark 1`, 2, 'INVALID_OPTION', /needs --sports or --dports/],
  [`${IPT} --s 10.0.0.1 -j MARK --set-mark 1`, 2, 'INVALID_OPTION', /ambiguous/],
  [`${IPT} ! ! -s 10.0.0.1 -j MARK --set-mark 1`, 2, 'INVALID_OPTION', /multiple ! flags/],
  [`${IPT} -p tcp ! --comment x -j MARK --set-mark 1`, 2, 'UNSUPPORTED'],
  ['iptables -t mangle -A OUTPUT -i eth0 -j MARK --set-mark 1', 2, 'INVALID_OPTION', /Can't use -i with OUTPUT/],
  [`${IPT} -m mark -j MARK --set-mark 1`, 2, 'INVALID_OPTION', /needs --mark/],
  [`${IPT} -m limit --limit 0/s -j MARK --set-mark 1`, 1, 'INVALID_RATE'],
  [`${IPT} -m limit --limit 1/s --limit-burst 0 -j MARK --set-mark 1`, 1, 'INVALID_BURST'],
  [`${IPT} -s 2001:db8::1 -j MARK --set-mark 1`, 1, 'FAMILY_MISMATCH'],
  ['ip6tables -t raw -A PREROUTING -s 10.0.0.1 -j MARK --set-mark 1', 1, 'FAMILY_MISMATCH'],
  [`${IPT} --frobnicate -j MARK --set-mark 1`, 2, 'UNSUPPORTED', /unsupported word '--frobnicate' at position 5/],
  [`${IPT} ! -p tcp -j MARK --set-mark 1`, 2, 'UNSUPPORTED', /unsupported word '!' at position 5/],
  [`${IPT} -j MARK --set-mark 1 --and-mark 2`, 2, 'INVALID_OPTION', /already given/],
  [`${IPT} -m tcp --dport 22 -j MARK --set-mark 1`, 2, 'PORT_WITHOUT_PROTO'],
  ['iptables -t raw -A PREROUTING -A OUTPUT -j MARK --set-mark 1', 2, 'INVALID_OPTION', /only one command/],
  ['iptables -t raw -D PREROUTING -s 10.0.0.9 -j MARK --set-mark 1', 1, 'NOT_FOUND'],
  ['iptables -t raw -D PREROUTING 99', 1, 'NOT_FOUND'],
  ['iptables -t raw', 2, 'INVALID_OPTION', /no command/],
  [`${TCF} match ip tos 0x10 0xff action skbedit mark 1`, 2, 'UNSUPPORTED', /unsupported word 'tos' at position 14/],
  [`${TCF} match ip src 10.0.0.1 action gact drop`, 2, 'UNSUPPORTED', /unsupported word 'gact' at position 17/],
  ['tc filter add dev d0 parent 1: protocol ip u32 match ip src 10.0.0.1 action skbedit mark 1', 2, 'UNSUPPORTED', /unsupported word '1:' at position 6/],
  [`${TCF} match ip src 10.0.0.300 action skbedit mark 1`, 1, 'INVALID_CIDR'],
  [`${TCF} match ip src 10.0.0.1 action skbedit mark 0x1g`, 1, 'INVALID_MARK'],
  [`${TCF} match ip src 10.0.0.1 action skbedit priority 1`, 2, 'UNSUPPORTED', /unsupported word 'priority' at position 18/],
  [`${TCF} match ip src 10.0.0.1`, 2, 'INVALID_OPTION', /needs action skbedit/],
  ['tc filter add dev nosuchdev parent ffff: protocol ip u32 match ip src 10.0.0.1 action skbedit mark 1', 1, 'NOT_FOUND'],
  ['tc qdisc add dev d0 htb', 2, 'UNSUPPORTED', /unsupported word 'htb' at position 5/],
  ['tc class add dev d0', 2, 'UNSUPPORTED', /unsupported word 'class' at position 1/],
];

/** Lines that name a namespace of their own (the others run with --netns NS). */
const NETNS_LINES: readonly Line[] = [
  ['--netns pktmark-no-such-ns list', 1, 'INVALID_NETNS', /does not exist/],
  ['--netns /proc/999999999/ns/net add --mark 1', 1, 'INVALID_NETNS'],
  ['--netns 0 list', 1, 'INVALID_NETNS'],
];

function state(ns: Netns): string {
  const tc = (...a: string[]): string => { try { return ns.tc('-j', ...a); } catch (e) { return String(e); } };
  return JSON.stringify({
    nft: ns.exec('/usr/sbin/nft', ['list', 'ruleset']),
    qdisc: tc('qdisc', 'show', 'dev', 'd0'),
    ingress: tc('filter', 'show', 'dev', 'd0', 'ingress'),
    egress: tc('filter', 'show', 'dev', 'd0', 'egress'),
  });
}

liveTest(`${BAD.length + NETNS_LINES.length} bad command lines: documented exit status and code, one stderr line, kernel unchanged`, async (t) => {
  t.true(BAD.length + NETNS_LINES.length >= 40);
  await withNetns(async (ns) => {
    run(IP, ['-n', ns.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    ns.ip('link', 'set', 'd0', 'up');
    // something to lose: a rule a bad -D/-F could remove, and a clsact qdisc
    const seed = await cli(['--netns', ns.name, 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '0xdeadbeef']);
    t.is(seed.code, 0, seed.stderr);
    ns.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
    const before = state(ns);
    const lines = [...BAD.map(([a, ...r]) => [['--netns', ns.name, ...a.split(' ')], ...r] as const), ...NETNS_LINES.map(([a, ...r]) => [a.split(' '), ...r] as const)];
    const results = await pool(lines, 6, ([args]) => cli(args));
    const problems: string[] = [];
    results.forEach((res, i) => {
      const [args, exit, code, message] = lines[i];
      const what = args.slice(2).join(' ');
      const errLines = res.stderr.trimEnd().split('\n');
      if (res.code !== exit) problems.push(`${what}: exit ${res.code}, expected ${exit}`);
      if (errLines.length !== 1) problems.push(`${what}: ${errLines.length} stderr lines`);
      if (!errLines[0].startsWith(`pktmark: ${code}`)) problems.push(`${what}: expected ${code}: ${errLines[0]}`);
      if (message && !message.test(errLines[0])) problems.push(`${what}: ${errLines[0]} does not match ${message}`);
      if (res.stdout !== '') problems.push(`${what}: stdout ${res.stdout}`);
      if (/\n\s+at /.test(res.stderr)) problems.push(`${what}: stack trace`);
    });
    t.deepEqual(problems, []);
    t.pass(`${results.length} lines checked`);
    t.is(state(ns), before, 'kernel state unchanged');
  });
});
