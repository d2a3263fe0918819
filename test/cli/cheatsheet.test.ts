/**
 * The cheat sheet's lines through the fronts give the same kernel state as the native command
 * (the nft line pktmark explains, applied by /usr/sbin/nft in a twin namespace) and as
 * iptables-translate's translation (moved into pktmark's table) — compared as the rules'
 * expressions in `nft -j list ruleset`, counters and handles aside. Packets prove the marks:
 * over a veth pair, an observer `meta l4proto udp meta mark 0xdeadbeef counter` in a later chain of the same
 * namespace counts what the front's rule marked. The tc line is compared with `tc -j filter
 * show` of the native line (this kernel lacks act_skbedit: both must then refuse it alike).
 */
import { readFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { liveTest, withNetns, withVethPair, run, IP, NFT, type Netns } from '../helpers/netns.js';
import { describeFeatures, kernelFeatures } from '../helpers/kernel-features.js';
import { cli, ROOT } from './cli.js';

const LINES = {
  v4: 'iptables -t raw -A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0xdeadbeef',
  v6: 'ip6tables -t raw -A PREROUTING -s 2001:0db8::1 -j MARK --set-mark 0xdeadbeef',
  limit: 'iptables -t raw -A PREROUTING -s 10.0.0.1 -m limit --limit 1/s --limit-burst 1 -j MARK --set-mark 0xdeadbeef',
} as const;
const TC_LINE = 'tc filter add dev d0 parent ffff: protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef';

type Json = Record<string, unknown>;
/** The rules of `nft -j list ruleset`: chain and expressions, without handles and counter values. */
function rules(ns: Netns): Json[] {
  const out: Json[] = [];
  for (const o of ns.ruleset().nftables) {
    const r = o.rule as Json | undefined;
    if (!r) continue;
    const expr = JSON.parse(JSON.stringify(r.expr), (k, v) => (k === 'counter' ? {} : v));
    out.push({ family: r.family, table: r.table, chain: r.chain, expr, ...(r.comment ? { comment: r.comment } : {}) });
  }
  return out;
}

async function pktmark(t: ExecutionContext, ns: Netns, line: string): Promise<string> {
  const r = await cli(['--netns', ns.name, ...line.split(' ')]);
  t.is(r.code, 0, `${line}: ${r.stderr}`);
  return r.stdout;
}

/** iptables-translate's nft command, moved from `ip raw PREROUTING` into pktmark's own chain. */
function translated(line: string): string {
  const [tool, ...args] = line.split(' ');
  const out = run(`/usr/sbin/${tool}-translate`, args).trim();
  const m = /^nft '?add rule ip6? (raw|mangle) (PREROUTING|OUTPUT) (.*?)'?$/.exec(out);
  if (!m) throw new Error(`unexpected translation: ${out}`);
  return `add rule inet pktmark ${m[2].toLowerCase()} ${m[3]}`;
}

const SETUP = 'add table inet pktmark { comment "pktmark" ; }\nadd chain inet pktmark prerouting { type filter hook prerouting priority raw ; }\nadd chain inet pktmark output { type route hook output priority mangle ; }\n';

for (const [name, line] of Object.entries(LINES)) {
  liveTest(`cheat sheet ${name}: pktmark ${line} = native nft = iptables-translate, and listed / removed by -D`, async (t) => {
    await withNetns(async (a, native, trans) => {
      await pktmark(t, a, line);
      const dry = await cli(['--dry-run', ...line.split(' ')]);
      t.is(dry.code, 0);
      native.nftFile(SETUP + dry.stdout.trim().replace(/^nft /, '') + '\n');
      trans.nftFile(SETUP + translated(line) + '\n');
      const ours = rules(a);
      t.is(ours.length, 1);
      t.deepEqual(ours, rules(native), 'same expressions as the native nft command');
      t.deepEqual(ours, rules(trans), 'same expressions as iptables-translate');
      // pktmark list shows it; -D with the same spec removes exactly it
      const list = JSON.parse((await cli(['--netns', a.name, '--json', 'list'])).stdout) as { rules: { id: string; mark: string }[] };
      t.is(list.rules.length, 1);
      t.is(list.rules[0].mark, '0xdeadbeef');
      await pktmark(t, a, 'iptables -t raw -A PREROUTING -s 10.0.0.3 -j MARK --set-mark 0x1');
      await pktmark(t, a, line.replace(' -A ', ' -D '));
      const left = JSON.parse((await cli(['--netns', a.name, '--json', 'list'])).stdout) as { rules: { src: string }[] };
      t.deepEqual(left.rules.map((r) => r.src), ['10.0.0.3/32'], 'only the other rule is left');
    }, 3);
  });
}

const OBSERVER = 'add table inet observe\nadd chain inet observe pre { type filter hook prerouting priority 0 ; }\nadd rule inet observe pre meta l4proto udp meta mark 0xdeadbeef counter\n';
function observed(ns: Netns): number {
  const set = ns.ruleset().nftables.find((o) => (o.rule as Json | undefined)?.table === 'observe') as { rule: { expr: Json[] } };
  const c = set.rule.expr.find((e) => 'counter' in e) as { counter: { packets: number } };
  return c.counter.packets;
}
const SEND = `${ROOT}test/demo/send-udp.mjs`;
const send = (ns: Netns, src: string, dst: string, n: number): void => { ns.exec(process.execPath, [SEND, src, dst, '9', String(n)]); };

liveTest('packets: the v4 and v6 cheat-sheet lines mark packets from the matched source only', async (t) => {
  await withVethPair(async (a, b) => {
    b.ip('addr', 'add', '2001:db8::1/64', 'dev', 'vb', 'nodad');
    a.ip('route', 'add', '2001:db8::/64', 'dev', 'va');
    await pktmark(t, a, LINES.v4);
    await pktmark(t, a, LINES.v6);
    a.nftFile(OBSERVER);
    send(b, '10.0.0.1', '10.0.0.2', 5);
    send(b, '10.0.0.3', '10.0.0.2', 4);
    send(b, '2001:db8::1', 'fd00::2', 3);
    send(b, 'fd00::3', 'fd00::2', 2);
    await new Promise((r) => setTimeout(r, 300));
    t.is(observed(a), 8, '5 from 10.0.0.1 and 3 from 2001:db8::1 carry 0xdeadbeef; none from 10.0.0.3 or fd00::3');
    const list = JSON.parse((await cli(['--netns', a.name, '--json', 'list'])).stdout) as { rules: { src: string; packets: number }[] };
    t.deepEqual(list.rules.map((r) => r.src), ['10.0.0.1/32', '2001:db8::1/128']);
    t.is(list.rules[0].packets, 5);
    // the v6 rule also marks the neighbour solicitation 2001:db8::1 sends to reach fd00::2
    t.true(list.rules[1].packets >= 3);
  });
});

liveTest('packets: the limit line marks one packet of a quick burst of 20', async (t) => {
  await withVethPair(async (a, b) => {
    await pktmark(t, a, LINES.limit);
    a.nftFile(OBSERVER);
    send(b, '10.0.0.1', '10.0.0.2', 20);
    await new Promise((r) => setTimeout(r, 300));
    t.is(observed(a), 1);
  });
});

function tcState(ns: Netns): unknown {
  const f = JSON.parse(ns.tc('-j', 'filter', 'show', 'dev', 'd0', 'ingress')) as Json[];
  // pktmark's actions carry its owner cookie (tc-rule.ts); the rest must be the same
  return JSON.parse(JSON.stringify(f), (k, v) => (k === 'cookie' || k === 'ref' || k === 'bind' || k === 'installed' || k === 'last_used' || k === 'stats' || k === 'first_used' || k === 'expires' ? undefined : v));
}

liveTest('cheat sheet tc line: pktmark tc gives the same `tc -j filter show` as tc, or the same refusal where act_skbedit is missing', async (t) => {
  await withNetns(async (a, b) => {
    for (const ns of [a, b]) {
      run(IP, ['-n', ns.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
      ns.tc('qdisc', 'add', 'dev', 'd0', 'ingress');
    }
    const qd = await cli(['--netns', a.name, 'tc', 'qdisc', 'del', 'dev', 'd0', 'ingress']);
    t.is(qd.code, 0, qd.stderr);
    await pktmark(t, a, 'tc qdisc add dev d0 ingress');
    t.deepEqual(JSON.parse(a.tc('-j', 'qdisc', 'show', 'dev', 'd0')), JSON.parse(b.tc('-j', 'qdisc', 'show', 'dev', 'd0')), 'qdisc add/del like tc');
    const skbedit = (await kernelFeatures()).act_skbedit;
    t.log(await describeFeatures('act_skbedit'));
    let nativeOk = true;
    try { b.tc(...TC_LINE.split(' ').slice(1)); } catch { nativeOk = false; }
    t.is(nativeOk, skbedit.available, 'tc itself agrees with the probe');
    const ours = await cli(['--netns', a.name, ...TC_LINE.split(' ')]);
    if (skbedit.available) {
      t.is(ours.code, 0, ours.stderr);
      t.deepEqual(tcState(a), tcState(b));
    } else {
      t.log('this kernel has no act_skbedit: tc refuses the line, so must pktmark (exit 1, nothing applied)');
      t.is(ours.code, 1);
      t.regex(ours.stderr, /^pktmark: ACTION_UNAVAILABLE/);
      t.deepEqual(tcState(a), tcState(b));
      t.deepEqual(tcState(a), []);
    }
  }, 2);
});

void readFileSync; void NFT;
