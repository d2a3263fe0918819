/**
 * One measured apply in a fresh process (run by bench/scale.ts): `cold` times the first add of
 * this process including loading pktmark and koffi and opening the socket (an agent's start-up);
 * `warm` first adds up to 2,000 of the same rules six times (each cleared), then times the add (the JIT is warm, koffi loaded, the socket open). `replay` sends pktmark's pre-encoded batch through
 * a bare socket, after the same warm-up churn as `warm`: the kernel's floor. `warm` and `replay` then
 * time SAMPLES adds (or replays), each cleared and followed by the same pause, and report their
 * median: an agent's steady state, not the first add after the warm-up alone (one sample per
 * process put the faults of the first fresh heap pages, and one slow spell, in the figure).
 * Prints JSON { ms, addMs, samples, vmHwmKB, status }.
 *   node dist/bench/child-apply.js NETNS N cold|warm|replay|set-cold|set-warm
 */
import { readFileSync } from 'node:fs';

const t0 = process.hrtime.bigint();
const [ns, nText, mode] = process.argv.slice(2);
const N = Number(nText);
const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;
const vmHwmKB = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
const addr = (i: number, base = 10): string => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
// set mode needs only the addresses: N rule objects it never uses would count in its peak RSS
const setMode = mode === 'set-cold' || mode === 'set-warm';
const inputs = setMode ? [] : Array.from({ length: N }, (_, i) => ({ src: addr(i), mark: 0xdeadbeef }));

/**
 * Warm what the measured add runs (validation, encoding, the exchange, reading the echoes) by
 * doing it on this Marker (so its socket is open too, as an agent's is): six adds of up to 2,000
 * of the same rules, each cleared, then a pause while the kernel frees them (it destroys deleted
 * rules in a work queue, which would otherwise run on the same cores as the measured add). In a
 * loop, an add of 1,000 settles after 6-8 adds; encoding alone (encode(), the streamed path) left
 * add's own code cold: the "warm" add of 1,000 was 1.5x the floor that way. The replay floor does
 * the same churn first, so both meet the namespace's kernel state alike (an nf_tables commit of
 * 10,000 rules took 107-143 ms here depending on what the namespace had seen).
 */
async function warmUp(m: import('../src/index.js').Marker): Promise<void> {
  const some = inputs.slice(0, Math.min(N, 2000));
  for (let r = 0; r < 6; r++) { await m.add(some); await m.clear({ via: 'nft' }); }
  await settle();
}
const settle = (): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, 300));

/** timed adds in the steady state: 5 (3 for 100,000 rules, whose clear alone takes a second) */
const SAMPLES = Number(process.env.PKTMARK_BENCH_SAMPLES ?? (N > 10_000 ? 3 : 5));

/** `once` SAMPLES times, each followed by a clear and the pause: the samples and their median */
async function sampled(m: import('../src/index.js').Marker, once: () => Promise<number>): Promise<{ addMs: number; samples: number[] }> {
  // imported here, not at the top: the cold modes' peak RSS stays the add's alone
  const { median } = await import('./common.js');
  const samples: number[] = [];
  for (let k = 0; k < SAMPLES; k++) {
    samples.push(await once());
    if (k + 1 < SAMPLES) { await m.clear({ via: 'nft' }); await settle(); }
  }
  return { addMs: median(samples), samples };
}

function out(r: Record<string, unknown>): void { process.stdout.write(JSON.stringify({ ...r, vmHwmKB: vmHwmKB() })); }

async function main(): Promise<void> {
  if (mode === 'cold' || mode === 'warm') {
    const { Marker } = await import('../src/index.js');
    const m = await Marker.open({ netns: ns, timeoutMs: 120_000 });
    const addOnce = async (): Promise<number> => {
      const t1 = process.hrtime.bigint();
      const recs = await m.add(inputs);
      const ms = since(t1);
      if (recs.length !== N) throw new Error(`added ${recs.length} of ${N}`);
      return ms;
    };
    if (mode === 'cold') {
      const addMs = await addOnce();
      out({ status: 'ok', ms: since(t0), addMs });
    } else {
      await warmUp(m);
      const { addMs, samples } = await sampled(m, addOnce);
      out({ status: 'ok', ms: addMs, addMs, samples });
    }
    await m.close();
  } else if (mode === 'replay') {
    const { encode, Marker } = await import('../src/index.js');
    const { NetlinkSocket } = await import('../src/transport/netlink-socket.js');
    const m = await Marker.open({ netns: ns, timeoutMs: 120_000 });
    await warmUp(m);
    const { parseMessages } = await import('../codecs/netlink/message.js');
    const messages = encode(inputs);
    const bytes = new Uint8Array(messages.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of messages) { bytes.set(p, at); at += p.length; }
    const lastReal = parseMessages(messages[messages.length - 2])[0].header.seq;
    const s = NetlinkSocket.open({ protocol: 12, netns: ns, timeoutMs: 120_000 });
    s.ensureBuffers(bytes.length + 65536, bytes.length * 2 + (1 << 20));
    // the Marker stays open for the clears between samples (the same churn as the warm add's)
    const { addMs, samples } = await sampled(m, async () => {
      const t1 = process.hrtime.bigint();
      await s.exchange(bytes, { seq: lastReal, until: 'ack' });
      return since(t1);
    });
    await s.close();
    await m.close();
    out({ status: 'ok', ms: addMs, addMs, samples });
  } else if (mode === 'set-cold' || mode === 'set-warm') {
    // set mode: one rule whose src is the whole list (one named hash set)
    const { Marker } = await import('../src/index.js');
    const src = Array.from({ length: N }, (_, i) => addr(i));
    const m = await Marker.open({ netns: ns, timeoutMs: 120_000 });
    if (mode === 'set-warm') {
      const scratch = await Marker.open({ netns: ns, table: 'pktmark_warmup', timeoutMs: 120_000 });
      await scratch.add({ src, mark: 0xdeadbeef });
      await scratch.clear();
      await scratch.close();
    }
    const t1 = process.hrtime.bigint();
    await m.add({ src, mark: 0xdeadbeef });
    const addMs = since(t1);
    out({ status: 'ok', ms: mode === 'set-cold' ? since(t0) : addMs, addMs });
    await m.close();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

await main();
