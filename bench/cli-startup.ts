/**
 * Start-up cost of the pktmark command: wall time of one whole `pktmark add …` process (one
 * rule, into a fresh throwaway namespace, and into one where pktmark's table exists) against bare Node (`node -e 0`), `nft add rule …`
 * and `iptables-nft -t raw -A …`, measured in the same run, interleaved, median of N.
 * Target (issue 13): pktmark add ≤ 1.3 × node -e 0. `pktmark --help` (loading the CLI only) and
 * `add --no-check` (no live scan) show where add's time goes. Writes bench/results-cli.json.
 *   npm run bench:cli            (builds dist/ first; BENCH_N=25 to change the run count)
 * Runs from the sources (tsx) or compiled (dist/bench/cli-startup.js, as `npm run bench` does).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const IP = '/usr/sbin/ip';
const NFT = '/usr/sbin/nft';
const IPT = '/usr/sbin/iptables-nft';
const N = Number(process.env.BENCH_N ?? 21);
const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = HERE.endsWith('/dist/bench') ? join(HERE, '../../bench') : HERE;
const BIN = join(BENCH_DIR, '../bin/pktmark.cjs');

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** Time one process; the namespace is made before and removed after, outside the timing. */
function timed(setup: ((ns: string) => void) | undefined, cmd: (ns: string) => [string, string[]]): number {
  const ns = `pmb-${process.pid}-${randomBytes(3).toString('hex')}`;
  sh(IP, ['netns', 'add', ns]);
  try {
    setup?.(ns);
    const [c, a] = cmd(ns);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(c, a, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${c} ${a.join(' ')} failed: ${r.stderr}`);
    return ms;
  } finally {
    spawnSync(IP, ['netns', 'del', ns]);
  }
}

const cases: Record<string, { setup?: (ns: string) => void; cmd: (ns: string) => [string, string[]] }> = {
  'node -e 0': { cmd: () => [process.execPath, ['-e', '0']] },
  'pktmark add': { cmd: (ns) => [process.execPath, [BIN, '--netns', ns, 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef']] },
  // the usual case after the first: pktmark's table and chain exist (as nft add rule's setup makes them)
  'pktmark add, table exists': {
    setup: (ns) => sh(process.execPath, [BIN, '--netns', ns, 'add', '--no-check', '--src', '10.0.0.2', '--mark', '1']),
    cmd: (ns) => [process.execPath, [BIN, '--netns', ns, 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef']],
  },
  // where add's time goes: loading the CLI alone (--help), and add without its live conflicts scan
  'pktmark --help': { cmd: () => [process.execPath, [BIN, '--help']] },
  'pktmark add --no-check': { cmd: (ns) => [process.execPath, [BIN, '--netns', ns, 'add', '--no-check', '--src', '10.0.0.1', '--mark', '0xdeadbeef']] },
  'ip netns exec true': { cmd: (ns) => [IP, ['netns', 'exec', ns, '/bin/true']] },
  'nft add rule': {
    setup: (ns) => sh(IP, ['netns', 'exec', ns, NFT, 'add table inet pktmark; add chain inet pktmark prerouting { type filter hook prerouting priority raw ; }']),
    cmd: (ns) => [IP, ['netns', 'exec', ns, NFT, 'add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0xdeadbeef']],
  },
  'iptables-nft -t raw -A': {
    cmd: (ns) => [IP, ['netns', 'exec', ns, IPT, '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '0xdeadbeef']],
  },
};

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const range = (xs: number[]): { min: number; max: number } => ({ min: Math.round(Math.min(...xs) * 10) / 10, max: Math.round(Math.max(...xs) * 10) / 10 });
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
// one warm-up round (page cache, dist/ compiled modules), then N interleaved rounds
for (let i = 0; i <= N; i++) {
  for (const [name, c] of Object.entries(cases)) {
    const ms = timed(c.setup, c.cmd);
    if (i > 0) samples[name].push(ms);
  }
}
const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const ratio = (a: string, b: string): number => Math.round((med[a] / med[b]) * 100) / 100;
const ratios = {
  'pktmark add / node -e 0': ratio('pktmark add', 'node -e 0'),
  'pktmark add, table exists / node -e 0': ratio('pktmark add, table exists', 'node -e 0'),
  'pktmark --help / node -e 0': ratio('pktmark --help', 'node -e 0'),
  'pktmark add --no-check / node -e 0': ratio('pktmark add --no-check', 'node -e 0'),
  'pktmark add / nft add rule': ratio('pktmark add', 'nft add rule'),
  'pktmark add / iptables-nft -A': ratio('pktmark add', 'iptables-nft -t raw -A'),
  'nft add rule / node -e 0': ratio('nft add rule', 'node -e 0'),
};
const target = 1.3;
const result = {
  runs: N, node: process.version, medianMs: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Math.round(v * 10) / 10])),
  rangeMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, range(v)])),
  ratios, target: `pktmark add ≤ ${target} × node -e 0`, met: ratios['pktmark add / node -e 0'] <= target,
  note: 'nft and iptables-nft run through `ip netns exec` (its own cost is listed); pktmark enters the namespace itself (--netns).',
};
for (const [k, v] of Object.entries(result.medianMs)) console.log(`${k.padEnd(26)} ${String(v).padStart(8)} ms (median of ${N})`);
for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(36)} ${v}×`);
console.log(`target ${result.target}: ${result.met ? 'met' : 'NOT met'}`);
writeFileSync(join(BENCH_DIR, 'results-cli.json'), JSON.stringify(result, null, 2) + '\n');
