/**
 * Issue 10's restore benchmark: an iptables-restore file of 10,000 `-A PREROUTING -s A -j MARK
 * --set-mark 0x1` lines (*raw), each run into a fresh namespace:
 *   - as a container entrypoint runs it: the bundled CLI (`node dist/pktmark.cjs iptables-restore F`,
 *     a fresh process) against `/usr/sbin/iptables-nft-restore F`, same file, same run (target ≤ 1.3×);
 *   - through the library on an open Marker: parse the file and add its rules (target ≤ 1.0× iptables-restore);
 *   - the kernel-only floor: pktmark's own batch for the file, encoded before the clock starts, in one
 *     exchange — what is left is parsing, checking, encoding and node's start-up (`node -e 0` beside it).
 * Ratios printed; figures into bench/results.json (section restore10k). PKTMARK_BENCH_RULES / _ROUNDS
 * make it smaller for a quick look.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Marker, encode } from '../src/marker.js';
import { parseRestore } from '../src/cli/fronts/restore-format.js';
import { NetlinkSocket } from '../src/transport/netlink-socket.js';
import { NETLINK_NETFILTER } from '../src/transport/transport.js';
import { NFT, ROOT_DIR, dropNetns, freshNetns, median, ms, saveResults, timeInNetns, verdict } from './common.js';

const N = Number(process.env.PKTMARK_BENCH_RULES ?? 10000);
const ROUNDS = Number(process.env.PKTMARK_BENCH_ROUNDS ?? 5);
const RESTORE = '/usr/sbin/iptables-nft-restore';
const BUNDLE = join(ROOT_DIR, 'dist', 'pktmark.cjs');
const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const text = ['*raw', ':PREROUTING ACCEPT [0:0]', ...Array.from({ length: N }, (_, i) => `-A PREROUTING -s ${addr(i)}/32 -j MARK --set-mark 0x1`), 'COMMIT', ''].join('\n');
const dir = mkdtempSync(join(tmpdir(), 'pktmark-bench-restore-'));
const file = join(dir, 'rules.v4');
writeFileSync(file, text);

/** pktmark's rules in the namespace (its chain), or iptables-nft's (table ip raw), counted by nft */
function count(ns: string, table: string): number {
  const out = execFileSync('/usr/sbin/ip', ['netns', 'exec', ns, NFT, 'list', 'table', ...table.split(' ')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return (out.match(/mark set/g) ?? []).length;
}

function processRun(cmd: string, args: string[], table: string): number {
  const ns = freshNetns();
  try {
    const [t] = timeInNetns(ns, 1, cmd, args);
    if (count(ns, table) !== N) throw new Error(`${cmd}: ${count(ns, table)} rules, expected ${N}`);
    return t;
  } finally { dropNetns(ns); }
}

/** Through the library into a namespace made beforehand (see inProcessRounds); counted by the caller. */
async function library(ns: string): Promise<number> {
  const m = await Marker.open({ netns: ns });
  await m.list({ via: 'nft' }); // the Marker is open and its socket warm, as in a running agent
  const t0 = process.hrtime.bigint();
  const plan = parseRestore(readFileSync(file, 'utf8'), 'ip');
  await m.add(plan.rules);
  const t = ms(t0);
  await m.close();
  return t;
}

/** pktmark's own batch for the file, replayed (the kernel's part alone) into a namespace made beforehand. */
async function floor(ns: string): Promise<number> {
  const s = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: ns });
  // pktmark's batch for the file (as for an empty namespace), encoded and renumbered before the clock starts
  const msgs = encode(parseRestore(text, 'ip').rules);
  const total = msgs.reduce((n, m) => n + m.length, 0);
  const bytes = new Uint8Array(total);
  let off = 0, ackSeq = 0;
  msgs.forEach((m, i) => {
    bytes.set(m, off);
    const seq = s.nextSeq();
    new DataView(bytes.buffer).setUint32(off + 8, seq, true);
    if (i === msgs.length - 2) ackSeq = seq; // the last NEWRULE carries NLM_F_ACK (BATCH_END is not answered)
    off += m.length;
  });
  const t0 = process.hrtime.bigint();
  await s.exchange(bytes, { seq: ackSeq, until: 'ack' });
  const t = ms(t0);
  s.close();
  return t;
}

/**
 * The library and the floor, `times` rounds each, alternating, back to back on namespaces made
 * first: making one runs `ip`, and a child process leaves every page of this one copy-on-write,
 * so a round timed right after a spawn paid a fault for each heap page it wrote (the harness's
 * cost: an agent does not fork per restore). Each namespace's rules are counted afterwards.
 */
async function inProcessRounds(times: number): Promise<{ lib: number[]; fl: number[] }> {
  const spaces = Array.from({ length: 2 * times }, () => freshNetns());
  try {
    const lib: number[] = [], fl: number[] = [];
    for (let i = 0; i < times; i++) { lib.push(await library(spaces[2 * i])); fl.push(await floor(spaces[2 * i + 1])); }
    for (const ns of spaces) if (count(ns, 'inet pktmark') !== N) throw new Error(`${ns}: ${count(ns, 'inet pktmark')} rules, expected ${N}`);
    return { lib, fl };
  } finally { spaces.forEach(dropNetns); }
}

async function main(): Promise<void> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: npm run build`);
  console.log(`# iptables-restore of ${N} -j MARK lines, ${ROUNDS} rounds (median), each into a fresh namespace`);
  await inProcessRounds(1); // warm the JIT
  const { lib, fl } = await inProcessRounds(ROUNDS);
  const cli: number[] = [], ipt: number[] = [], node0: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    cli.push(processRun(process.execPath, [BUNDLE, 'iptables-restore', file], 'inet pktmark'));
    ipt.push(processRun(RESTORE, [file], 'ip raw'));
    node0.push(timeInNetns(freshNetnsOnce(), 1, process.execPath, ['-e', '0'])[0]);
  }
  const r = {
    rules: N,
    pktmarkProcessMs: median(cli), iptablesRestoreMs: median(ipt), libraryMs: median(lib), kernelFloorMs: median(fl), nodeStartMs: median(node0),
    processVsIptablesRestore: median(cli) / median(ipt), libraryVsIptablesRestore: median(lib) / median(ipt),
    restOfProcessMs: median(cli) - median(fl),
    note: 'pktmark: bundled CLI in a fresh process (dist/pktmark.cjs) into inet pktmark (with meta nfproto checks); iptables-nft-restore into ip raw; both timed from inside the namespace',
  };
  console.log(JSON.stringify(r, null, 2));
  console.log(verdict('pktmark iptables-restore (process) / iptables-nft-restore', r.processVsIptablesRestore, 1.3));
  console.log(verdict('library (open Marker) / iptables-nft-restore', r.libraryVsIptablesRestore, 1.0));
  console.log(`      kernel floor ${r.kernelFloorMs.toFixed(1)} ms; the rest of the pktmark process (start-up, parse, check, encode) ${r.restOfProcessMs.toFixed(1)} ms; node -e 0 ${r.nodeStartMs.toFixed(1)} ms`);
  saveResults('restore10k', r);
}

/** a namespace for `node -e 0` (dropped at exit: the timing does not depend on it) */
const spare: string[] = [];
function freshNetnsOnce(): string { const ns = freshNetns(); spare.push(ns); return ns; }
try { await main(); } finally { for (const ns of spare) dropNetns(ns); }
