/**
 * The bpf backend's error paths on the real kernel (root): a deliberately bad program (built
 * here, swapped in for the generated one at BPF_PROG_LOAD) is a BPF_VERIFIER error carrying the
 * verifier's log, and nothing stays attached (tc qdisc/filter show as before) or open (every fd
 * the backend opened through bpf() was closed).
 */
import { Marker } from '../../src/index.js';
import { openBpf, type BpfSys } from '../../src/transport/bpf.js';
import { assemble } from '../../codecs/bpf/asm.js';
import { exit } from '../../codecs/bpf/jump.js';
import { loadMem } from '../../codecs/bpf/load-store.js';
import { R0, R2 } from '../../codecs/bpf/insn.js';
import { liveTest, withVethPair, type Netns } from '../helpers/netns.js';

const tcState = (a: Netns): string => [a.tc('qdisc', 'show', 'dev', 'va'), a.tc('filter', 'show', 'dev', 'va', 'ingress')].join('\n');

/** The real bpf(), recording every fd it hands out and every close, with progLoad's program replaced. */
function badLoads(real: BpfSys): { sys: BpfSys; open: Set<number> } {
  const open = new Set<number>();
  const track = (fd: number): number => { open.add(fd); return fd; };
  // r0 = *(u32 *)(r2 + 0): r2 is never written, so the verifier refuses with "R2 !read_ok"
  const bad = assemble([loadMem(R0, R2, 0, 'W'), exit()]);
  const sys: BpfSys = Object.assign(Object.create(real) as BpfSys, {
    progLoad: (p: Parameters<BpfSys['progLoad']>[0]) => track(real.progLoad({ ...p, insns: bad })),
    mapCreate: (p: Parameters<BpfSys['mapCreate']>[0]) => track(real.mapCreate(p)),
    progGetFdById: (id: number) => track(real.progGetFdById(id)),
    mapGetFdById: (id: number) => track(real.mapGetFdById(id)),
    close: (fd: number) => { open.delete(fd); real.close(fd); },
  });
  return { sys, open };
}

liveTest('bpf live: a bad program is BPF_VERIFIER with the verifier log; nothing attached, every fd closed', async (t) => {
  await withVethPair(async (a) => {
    const before = tcState(a);
    const { sys, open } = badLoads(openBpf());
    const m = await Marker.open({ netns: a.name, bpf: sys });
    try {
      const e = await t.throwsAsync(m.add({ via: 'bpf', dev: 'va', src: '10.0.0.1', mark: 0xdeadbeef }), { code: 'BPF_VERIFIER' });
      t.regex(e!.message, /R2 !read_ok/);
      t.regex((e as { log?: string }).log ?? '', /R2 !read_ok/);
      t.is(tcState(a), before, 'no filter, and the clsact pktmark created is gone');
      t.deepEqual([...open], [], 'every fd closed');
    } finally { await m.close(); }
  });
});

liveTest('bpf live: egress rule attaches on clsact egress and clear restores tc state', async (t) => {
  await withVethPair(async (a) => {
    const before = tcState(a) + a.tc('filter', 'show', 'dev', 'va', 'egress');
    const m = await Marker.open({ netns: a.name });
    try {
      const r = await m.add({ via: 'bpf', dev: 'va', direction: 'egress', dst: '10.0.0.1', mark: 7 });
      t.is(r.id, 'bpf:va:egress:0');
      t.regex(a.tc('filter', 'show', 'dev', 'va', 'egress'), /pktmark\/bpf\+q.*direct-action/);
      t.deepEqual((await m.list({ via: 'bpf' })).map((x) => x.id), [r.id]);
      await m.clear();
      t.is(tcState(a) + a.tc('filter', 'show', 'dev', 'va', 'egress'), before);
    } finally { await m.close(); }
  });
});
