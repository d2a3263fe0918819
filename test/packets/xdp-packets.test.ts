/**
 * Packets through pktmark's xdp backend (root): the XDP metadata pair attached by
 * Marker.add({ via: 'xdp' }) over rtnetlink — no ip or tc binary — on va in namespace `a`,
 * packets from `b` over the veth, counted by an nft observer in `a`.
 * - native mode (veth is on the metadata list) and generic mode (forced the honest way: vb's MTU
 *   9000 makes veth refuse native XDP, "Peer MTU is too large", and pktmark falls back);
 * - a second rule added while packets flow loses none of the first rule's marks (XDP_FLAGS_REPLACE);
 * - after clear, `ip link show va` (its xdp line), `tc qdisc show` and `tc filter show` are as before.
 */
import { spawn } from 'node:child_process';
import { Marker } from '../../src/index.js';
import { IP, liveTest, withVethPair, type Netns } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';

const M = 0xdeadbeef;
const state = (a: Netns): string => [a.ip('link', 'show', 'va').replace(/ state \S+/, ''), a.tc('qdisc', 'show', 'dev', 'va'), a.tc('filter', 'show', 'dev', 'va', 'ingress')].join('\n');

for (const mode of ['native', 'generic'] as const) {
  liveTest(`xdp (${mode}): 3/3 from 10.0.0.1 marked, 0/4 from 10.0.0.3; list says ${mode}; clear restores ip link and tc`, async (t) => {
    await withVethPair(async (a, b) => {
      if (mode === 'generic') b.ip('link', 'set', 'vb', 'mtu', '9000');
      addObserver(a, M);
      const before = state(a);
      const m = await Marker.open({ netns: a.name });
      try {
        const rec = await m.add({ via: 'xdp', dev: 'va', src: '10.0.0.1', mark: M });
        t.is(rec.id, 'xdp:va:0');
        t.regex(a.ip('link', 'show', 'va'), mode === 'native' ? /prog\/xdp id/ : /prog\/xdp(generic)? id|xdpgeneric/);
        sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
        sendUdp(b, '10.0.0.3', '10.0.0.2', 4);
        t.is(observerCount(a), 3);
        const [listed] = await m.list({ via: 'xdp' });
        t.is(listed.id, rec.id);
        t.is(listed.packets, 3, 'the XDP program counted its matches in the config map');
        t.is(listed.text, `# xdp: dev va ${mode}: ip saddr 10.0.0.1 → mark 0xdeadbeef`);
        await m.clear();
        t.is(state(a), before);
      } finally { await m.close(); }
    });
  });
}

/** `count` UDP packets from src, one every `gapMs`, in the background. */
function trickle(b: Netns, src: string, count: number, gapMs: number): Promise<void> {
  const js = `const s=require('dgram').createSocket('udp4');s.bind({address:'${src}'},()=>{let i=0;const f=()=>{if(i++>=${count}){s.close();return;}s.send('x',9,'10.0.0.2',()=>setTimeout(f,${gapMs}));};f();});`;
  return new Promise((resolve, reject) => {
    const p = spawn(IP, ['netns', 'exec', b.name, process.execPath, '-e', js], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`))));
  });
}

liveTest('xdp: a second rule added while packets flow loses none of the first rule\'s marks; deleting it keeps the first\'s id', async (t) => {
  await withVethPair(async (a, b) => {
    addObserver(a, M);
    const before = state(a);
    const m = await Marker.open({ netns: a.name });
    try {
      const first = await m.add({ via: 'xdp', dev: 'va', src: '10.0.0.1', mark: M });
      const N = 600;
      const flow = trickle(b, '10.0.0.1', N, 2);
      await new Promise((r) => setTimeout(r, 300));
      const second = await m.add({ via: 'xdp', dev: 'va', src: '10.0.0.3', mark: 0x1234 });
      t.is(second.id, 'xdp:va:1');
      await new Promise((r) => setTimeout(r, 200));
      await m.delete(second.id);
      await flow;
      t.is(observerCount(a), N, `all ${N} packets from 10.0.0.1 marked across two program swaps`);
      const left = await m.list({ via: 'xdp' });
      t.deepEqual(left.map((r) => [r.id, r.packets]), [[first.id, N]]);
      await m.delete(first.id);
      t.is(state(a), before);
    } finally { await m.close(); }
  });
});

liveTest('xdp: a foreign XDP program on the device is NOT_OWNED and stays', async (t) => {
  await withVethPair(async (a) => {
    const m = await Marker.open({ netns: a.name });
    try {
      // a foreign XDP program (`return XDP_PASS`, named someone_else), attached over netlink in generic mode
      const { openBpf } = await import('../../src/transport/bpf.js');
      const { assemble } = await import('../../codecs/bpf/asm.js');
      const { Mov } = await import('../../codecs/bpf/alu.js');
      const { exit } = await import('../../codecs/bpf/jump.js');
      const { R0 } = await import('../../codecs/bpf/insn.js');
      const bpf = openBpf();
      const fd = bpf.progLoad({ type: 6, insns: assemble([Mov.imm(R0, 2), exit()]), license: 'MIT', name: 'someone_else' });
      const { NetlinkSocket } = await import('../../src/transport/netlink-socket.js');
      const { execute } = await import('../../src/transport/execute.js');
      const { encodeSetXdp, XDP_FLAGS_SKB_MODE } = await import('../../codecs/tc/xdp.js');
      const ifindex = Number(JSON.parse(a.ip('-j', 'link', 'show', 'va'))[0].ifindex);
      const s = NetlinkSocket.open({ protocol: 0, netns: a.name });
      try { await execute(s, 'attach foreign', (w, seq) => encodeSetXdp(w, seq, { ifindex, fd, flags: XDP_FLAGS_SKB_MODE })); } finally { s.close(); bpf.close(fd); }
      const before = a.ip('link', 'show', 'va');
      await t.throwsAsync(m.add({ via: 'xdp', dev: 'va', src: '10.0.0.1', mark: M }), { code: 'NOT_OWNED' });
      t.is(a.ip('link', 'show', 'va'), before, 'the foreign program is still attached, nothing else changed');
      t.notRegex(a.tc('qdisc', 'show', 'dev', 'va'), /clsact/);
      await m.clear();
      t.regex(a.ip('link', 'show', 'va'), /xdpgeneric|prog\/xdp/, 'clear leaves it too');
    } finally { await m.close(); }
  });
});
