/**
 * Issue 4's benchmark: 1,000 u32 filters on one device's ingress, pktmark vs `tc -batch` of the
 * same filters, in this run. This kernel has no act_skbedit, so the filters carry no action
 * (the u32 match is the same one pktmark's mark rules use, ruleKeys()); each filter is one
 * RTM_NEWTFILTER with an ack, like tc sends.
 *  - sequential: one request, one ack, 1,000 times (what Marker.add does per tc rule)
 *  - pipelined: all 1,000 requests in one sendmsg; rtnetlink handles them in order and acks each
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { AttributeWriter } from '../codecs/netlink/attributes.js';
import { decodeAck, NLMSG_ERROR } from '../codecs/netlink/message.js';
import { encodeNewFilter, type TcFilter } from '../codecs/tc/filter.js';
import { selector } from '../codecs/tc/classifiers/u32.js';
import { ruleKeys } from '../src/backends/tc/rule.js';
import { normalizeRule } from '../src/normalize.js';
import { NetlinkSocket } from '../src/transport/netlink-socket.js';
import { IP, TC, dropNetns, freshNetns, median, ms, saveResults, timeInNetns, verdict } from './common.js';

const N = Number(process.env.PKTMARK_BENCH_FILTERS ?? 1000);
const ROUNDS = Number(process.env.PKTMARK_BENCH_ROUNDS ?? 5);
const srcs = Array.from({ length: N }, (_, i) => `10.0.${i >> 8}.${i & 255}`);

function device(): { ns: string; ifindex: number } {
  const ns = freshNetns();
  execFileSync(IP, ['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']); // no dummy module here
  execFileSync(IP, ['-n', ns, 'link', 'set', 'd0', 'up']);
  execFileSync(TC, ['-n', ns, 'qdisc', 'add', 'dev', 'd0', 'clsact']);
  const links = JSON.parse(execFileSync(IP, ['-n', ns, '-j', 'link', 'show', 'd0'], { encoding: 'utf8' })) as { ifindex: number }[];
  return { ns, ifindex: links[0].ifindex };
}

function filters(ifindex: number): TcFilter[] {
  return srcs.map((src) => {
    const keys = ruleKeys(normalizeRule({ via: 'tc', dev: 'd0', src, mark: 1 }));
    return { ifindex, parent: 0xfffffff2, prio: 1, protocol: 0x0800, handle: 0, options: { kind: 'u32', sel: selector(keys, 0), extra: [] } };
  });
}

function count(ns: string): number {
  const out = execFileSync(TC, ['-n', ns, 'filter', 'show', 'dev', 'd0', 'ingress'], { encoding: 'utf8' });
  return (out.match(/match /g) ?? []).length;
}

/** One timed add on a device made beforehand (see rounds); its filters are counted by the caller. */
async function pktmark(mode: 'sequential' | 'pipelined' | 'floor', { ns, ifindex }: { ns: string; ifindex: number }): Promise<number> {
  const s = NetlinkSocket.open({ protocol: 0, netns: ns });
  // the floor: the same pipelined bytes, encoded before the clock starts (kernel time only)
  let pre: { bytes: Uint8Array; last: number } | undefined;
  if (mode === 'floor') {
    const w = new AttributeWriter(N * 128);
    let last = 0;
    for (const f of filters(ifindex)) { last = s.nextSeq(); encodeNewFilter(w, last, f); }
    pre = { bytes: w.finish(), last };
  }
  const t0 = process.hrtime.bigint();
  if (pre) {
    await s.exchange(pre.bytes, { seq: pre.last, until: 'ack' });
  } else if (mode === 'pipelined') {
    const fs = filters(ifindex);
    const w = new AttributeWriter(N * 128);
    let last = 0;
    for (const f of fs) { last = s.nextSeq(); encodeNewFilter(w, last, f); }
    const replies = await s.exchange(w.finish(), { seq: last, until: 'ack' });
    const failed = replies.filter((m) => m.header.type === NLMSG_ERROR && decodeAck(m).errno !== 0);
    if (failed.length) throw new Error(`${failed.length} filters refused: errno ${decodeAck(failed[0]).errno}`);
  } else {
    for (const f of filters(ifindex)) {
      const w = new AttributeWriter(128);
      const seq = s.nextSeq();
      encodeNewFilter(w, seq, f);
      const [ack] = (await s.exchange(w.finish(), { seq, until: 'ack' })).filter((m) => m.header.type === NLMSG_ERROR);
      if (decodeAck(ack).errno !== 0) throw new Error(`filter refused: errno ${decodeAck(ack).errno}`);
    }
  }
  const t = ms(t0);
  s.close();
  return t;
}

type Mode = 'sequential' | 'pipelined' | 'floor';
/**
 * pktmark's runs, `times` rounds of `modes`, back to back on devices made first: making one
 * runs `ip` and `tc`, and a child process leaves every page of this one copy-on-write, so a run
 * timed right after a spawn paid a fault for each heap page it wrote (an agent does not fork
 * per add). Each device's filters are counted afterwards.
 */
async function rounds(modes: readonly Mode[], times: number): Promise<Record<Mode, number[]>> {
  const devices = Array.from({ length: modes.length * times }, () => device());
  const out: Record<Mode, number[]> = { sequential: [], pipelined: [], floor: [] };
  try {
    for (let i = 0; i < devices.length; i++) out[modes[i % modes.length]].push(await pktmark(modes[i % modes.length], devices[i]));
    for (const d of devices) if (count(d.ns) !== N) throw new Error(`expected ${N} filters, found ${count(d.ns)}`);
    return out;
  } finally { devices.forEach((d) => dropNetns(d.ns)); }
}

function tcBatch(file: string): number {
  const { ns } = device();
  try {
    const t = timeInNetns(ns, 1, TC, ['-batch', file])[0];
    if (count(ns) !== N) throw new Error(`tc -batch made ${count(ns)} filters`);
    return t;
  } finally { dropNetns(ns); }
}

async function main(): Promise<void> {
  console.log(`# tc: ${N} u32 filters, ${ROUNDS} rounds each (median)`);
  const file = join(mkdtempSync(join(tmpdir(), 'pktmark-bench-')), 'filters.tc');
  writeFileSync(file, srcs.map((s) => `filter add dev d0 ingress protocol ip prio 1 u32 match ip src ${s}/32`).join('\n') + '\n');
  await rounds(['sequential', 'pipelined', 'pipelined'], 1); // warm the JIT
  const { sequential: seq, pipelined: pipe, floor } = await rounds(['sequential', 'pipelined', 'floor'], ROUNDS);
  const tc: number[] = [];
  for (let i = 0; i < ROUNDS; i++) tc.push(tcBatch(file));
  const r = {
    filters: N,
    pktmarkSequentialMs: median(seq), pktmarkPipelinedMs: median(pipe), kernelFloorMs: median(floor), tcBatchMs: median(tc),
    floorVsTcBatch: median(floor) / median(tc),
    sequentialVsTcBatch: median(seq) / median(tc), pipelinedVsTcBatch: median(pipe) / median(tc),
    note: 'no action on the filters (this kernel has no act_skbedit); tc -batch timed from inside the namespace',
  };
  console.log(JSON.stringify(r, null, 2));
  console.log(verdict('pktmark sequential / tc -batch', r.sequentialVsTcBatch, 0.5));
  console.log(verdict('pktmark pipelined / tc -batch', r.pipelinedVsTcBatch, 0.5));
  console.log(`      the kernel alone (pre-encoded bytes, one sendmsg) takes ${r.floorVsTcBatch.toFixed(3)}× tc -batch`);
  saveResults('tc1k', r);
}

await main();
