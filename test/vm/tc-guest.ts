/**
 * Runs INSIDE the test/vm guest (Debian's stock kernel with act_skbedit and act_police), started
 * by test/vm/tc.test.ts as `test/vm/run.sh -- node --import tsx test/vm/tc-guest.ts`. Builds a veth pair between
 * two namespaces, marks with pktmark's tc path (the library, no tc binary for the marking), sends
 * UDP from the other side, and counts marked packets with an nft observer in the namespace where
 * the mark is set (marks do not cross namespaces). Prints one line: PKTMARK-VM-RESULT {json}.
 * The tools (ip, tc, nft) are used only to build the test bed and as oracles.
 * Then, in the same boot, it runs the ava file test/live/tc.test.ts, whose probes find
 * act_skbedit here and so assert the marking branch (the host run asserts the refusal), and
 * reports that run in the same line as `liveTc`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Marker } from '../../src/marker.js';
import { PktmarkError } from '../../src/errors.js';
import type { RuleRecord } from '../../src/backends/backend.js';

const IP = '/usr/sbin/ip', TC = '/usr/sbin/tc', NFT = '/usr/sbin/nft';
const SENDER = fileURLToPath(new URL('../demo/send-udp.mjs', import.meta.url));
const A = 'pmvm-a', B = 'pmvm-b';
const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
const inNs = (ns: string, cmd: string, args: string[], input?: string): string => sh(IP, ['netns', 'exec', ns, cmd, ...args], input);

function setup(): void {
  for (const ns of [A, B]) { sh(IP, ['netns', 'add', ns]); sh(IP, ['-n', ns, 'link', 'set', 'lo', 'up']); }
  sh(IP, ['link', 'add', 'va', 'netns', A, 'type', 'veth', 'peer', 'name', 'vb', 'netns', B]);
  for (const [ns, dev, addrs] of [[A, 'va', ['10.0.0.2/24', 'fd00::2/64']], [B, 'vb', ['10.0.0.1/24', '10.0.0.3/24', 'fd00::1/64', 'fd00::3/64']]] as const) {
    inNs(ns, '/usr/sbin/sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    for (const a of addrs) sh(IP, ['-n', ns, 'addr', 'add', a, 'dev', dev, 'nodad']);
    sh(IP, ['-n', ns, 'link', 'set', dev, 'up']);
  }
  // observer: runs in prerouting, after tc ingress, in the namespace where the mark is set; it counts
  // only the test's UDP datagrams (the IPv6 filter also marks the sender's neighbour solicitations)
  inNs(A, NFT, ['-f', '-'], `table inet obs { chain c { type filter hook prerouting priority 0;
    ip saddr 10.0.0.1 meta mark 0xdeadbeef udp dport 9 counter
    ip saddr 10.0.0.3 meta mark 0xdeadbeef udp dport 9 counter
    ip6 saddr fd00::1 meta mark 0xdeadbeef udp dport 9 counter
    ip6 saddr fd00::3 meta mark 0xdeadbeef udp dport 9 counter
    ip saddr 10.0.0.1 meta mark 0x10 udp dport 9 counter
    ip saddr 10.0.0.3 meta mark 0x10 udp dport 9 counter
  }
}
`);
}
const OBS = ['v4.1', 'v4.3', 'v6.1', 'v6.3', 'mask.1', 'mask.3'] as const;
function counters(): Record<(typeof OBS)[number], number> {
  const j = JSON.parse(inNs(A, NFT, ['-j', 'list', 'table', 'inet', 'obs'])) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
  const c: number[] = [];
  for (const o of j.nftables) for (const e of o.rule?.expr ?? []) if (e.counter) c.push(e.counter.packets);
  return Object.fromEntries(OBS.map((k, i) => [k, c[i]])) as Record<(typeof OBS)[number], number>;
}
const send = (src: string, dst: string, n: number): void => { inNs(B, process.execPath, [SENDER, src, dst, '9', String(n)]); };
function sendAndCount(batches: [string, string, number][]): Record<(typeof OBS)[number], number> {
  const before = counters();
  for (const [s, d, n] of batches) send(s, d, n);
  const after = counters();
  return Object.fromEntries(OBS.map((k) => [k, after[k] - before[k]])) as Record<(typeof OBS)[number], number>;
}
/** What `tc` shows on va: qdiscs and both filter blocks (the "as it was" oracle). */
function devState(): string {
  const q = inNs(A, TC, ['-j', 'qdisc', 'show', 'dev', 'va']);
  const f: string[] = [];
  for (const d of ['ingress', 'egress']) { try { f.push(inNs(A, TC, ['-j', 'filter', 'show', 'dev', 'va', d])); } catch { f.push('-'); } }
  return JSON.stringify({ q: JSON.parse(q), f });
}
const brief = (r: RuleRecord): Record<string, unknown> => ({ id: r.id, packets: r.packets, bytes: r.bytes, mark: r.rule?.mark, mask: r.rule?.mask, rate: r.rule?.rate, src: r.rule?.src?.address, raw: r.raw?.map((x) => x.name), text: r.text });

async function main(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { kernel: sh('/bin/uname', ['-r']).trim() };
  setup();
  const pristine = devState();
  const m = await Marker.open({ netns: A });
  try {
    // 1. the cheat sheet line: prio 1, u32 match ip src 10.0.0.1, skbedit mark 0xdeadbeef
    const r1 = await m.add({ via: 'tc', dev: 'va', src: '10.0.0.1', mark: 0xdeadbeef, prio: 1 });
    out.v4 = { id: r1.id, ...sendAndCount([['10.0.0.1', '10.0.0.2', 3], ['10.0.0.3', '10.0.0.2', 3]]) };
    out.v4list = (await m.list({ via: 'tc' })).map(brief);
    await m.delete(r1.id);
    out.v4deleteRestores = devState() === pristine;

    // 2. IPv6 /128 source, kernel-chosen priority
    const r2 = await m.add({ via: 'tc', dev: 'va', src: 'fd00::1', mark: 0xdeadbeef });
    out.v6 = { id: r2.id, ...sendAndCount([['fd00::1', 'fd00::2', 3], ['fd00::3', 'fd00::2', 3]]) };
    out.v6list = (await m.list({ via: 'tc' })).map(brief);
    await m.delete(r2.id);
    out.v6deleteRestores = devState() === pristine;

    // 3. mark with mask: (old & ~0xf0) | 0x10 on a packet arriving with mark 0
    const r3 = await m.add({ via: 'tc', dev: 'va', src: '10.0.0.1', mark: '0x10/0xf0' });
    out.mask = { id: r3.id, ...sendAndCount([['10.0.0.1', '10.0.0.2', 3], ['10.0.0.3', '10.0.0.2', 3]]) };
    out.masklist = (await m.list({ via: 'tc' })).map(brief);
    await m.clear({ via: 'tc' });
    out.maskClearRestores = devState() === pristine;

    // 4. rate-limited marking: police pkts_rate 1 pkts_burst 1, a quick burst of 20
    const r4 = await m.add({ via: 'tc', dev: 'va', src: '10.0.0.1', mark: 0xdeadbeef, rate: '1/second', burst: 1 });
    // Let the bucket fill for a full period first: under qemu's emulated clock the time between
    // the police action's creation and the first packet is not always positive (seen: 0 of 20
    // in 1 run of 6), and the burst is exactly one packet's worth of tokens.
    await new Promise((r) => setTimeout(r, 1200));
    out.police = { id: r4.id, sent: 20, ...sendAndCount([['10.0.0.1', '10.0.0.2', 20]]) };
    out.policelist = (await m.list({ via: 'tc' })).map(brief);
    await m.clear({ via: 'tc' });
    out.policeClearRestores = devState() === pristine;

    // 5. someone else's clsact and filter on the device: reused, never touched
    inNs(A, TC, ['qdisc', 'add', 'dev', 'va', 'clsact']);
    inNs(A, TC, ['filter', 'add', 'dev', 'va', 'ingress', 'protocol', 'ip', 'prio', '7', 'u32', 'match', 'ip', 'dst', '10.9.9.9', 'action', 'gact', 'ok']);
    const foreign = devState();
    const both = await m.add([
      { via: 'tc', dev: 'va', src: '10.0.0.1', mark: 0xdeadbeef },
      { via: 'tc', dev: 'va', direction: 'egress', dst: '10.0.0.1', mark: 7 },
    ]);
    out.foreign = { ids: both.map((r) => r.id), listed: (await m.list({ via: 'tc' })).map((r) => r.id) };
    try { await m.delete('tc:va:ingress:7:800::800'); out.foreignDelete = 'deleted?!'; } catch (e) { out.foreignDelete = (e as PktmarkError).code; }
    await m.clear({ via: 'tc' });
    out.foreignClearRestores = devState() === foreign;
    out.foreignState = devState();
  } finally {
    await m.close();
  }
  return out;
}

const AVA = fileURLToPath(new URL('../../node_modules/ava/entrypoints/cli.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * `ava test/live/tc.test.ts` in this kernel (CI set: an unmet requirement fails, never skips), and
 * the bpf and xdp packet checks once more, so the eBPF backends are proven on 6.1 too.
 */
const GUEST_FILES = ['test/live/tc.test.ts', 'test/live/apply-tc.test.ts', 'test/packets/bpf-packets.test.ts', 'test/packets/xdp-packets.test.ts'];
function liveTc(): { exit: number | null; passed: number; failed: number; skipped: number; log: string[]; tail: string } {
  const r = spawnSync(process.execPath, [AVA, '--config', 'test/vm/ava-guest.config.mjs', '--timeout=10m', ...GUEST_FILES], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true', TERM: 'dumb' }, timeout: 15 * 60_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  const count = (re: RegExp): number => out.split('\n').filter((l) => re.test(l)).length;
  // ava's symbols: ✔ ✘ ℹ, or √ × i where it thinks the terminal has no unicode (TERM=linux on the console)
  return { exit: r.status, passed: count(/^ *[✔√] /), failed: count(/^ *[✘×] /), skipped: count(/^ *- \[skip\]/), log: out.split('\n').filter((l) => /^ *[ℹi] /.test(l)).map((l) => l.trim()), tail: out.slice(-4000) };
}

// One result line whatever happened: the guest checks, or their error, then the ava run.
const cleanup = (): void => { for (const ns of [A, B]) { try { sh(IP, ['netns', 'del', ns]); } catch { /* gone */ } } };
main()
  .catch((e: unknown) => {
    process.exitCode = 1;
    return { error: e instanceof PktmarkError ? e.toJSON() : { message: String((e as Error)?.stack ?? e) } };
  })
  .then((r) => {
    cleanup();
    const live = liveTc();
    if (live.exit !== 0) process.exitCode = 1;
    console.log(`PKTMARK-VM-RESULT ${JSON.stringify({ ...r, liveTc: live })}`);
  });
