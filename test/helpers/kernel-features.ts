/**
 * What this kernel can do, found by trying it — the way `pktmark doctor` probes, but with the
 * real tools as the oracle (so a bug in pktmark's encoders cannot make a probe lie): each tc
 * probe adds one filter with `/usr/sbin/tc` in a throwaway namespace (a veth device with a
 * clsact qdisc), wireguard is one `ip link add`, and native XDP on veth loads a two-instruction
 * XDP program with bpf(2) and attaches it in driver mode. The namespace is deleted afterwards,
 * whatever happened. Results are memoized per process. Needs root (tests using it are liveTests).
 *
 * Tests assert the behaviour for what was found, e.g. with act_skbedit the marks, without it the
 * ACTION_UNAVAILABLE refusal — never a skip. This machine's 6.18 kernel has cls_u32 and cls_bpf but
 * no act_skbedit/act_police/act_gact; Debian's 6.1 (test/vm/) has them all.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import { randomBytes } from 'node:crypto';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { NETLINK_ROUTE } from '../../src/transport/transport.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { decodeAck, writeMessage, NLMSG_ERROR, NLM_F_REQUEST, NLM_F_ACK } from '../../codecs/netlink/message.js';
import { ifinfomsg } from '../../codecs/tc/link.js';

// no import of ava or of ./netns.js (which registers tests): the VM guest script uses this file too
const IP = '/usr/sbin/ip', TC = '/usr/sbin/tc';

export type Feature = 'cls_u32' | 'act_skbedit' | 'act_police' | 'act_gact' | 'cls_bpf' | 'xdp_native_veth' | 'wireguard';
export interface Probe { readonly available: boolean; readonly detail: string }
export type Features = Readonly<Record<Feature, Probe>>;

/** the filter each tc probe adds (ingress of d0, one prio each): it exists iff the kernel has the module */
const U32 = ['u32', 'match', 'u32', '0', '0'];
const TC_PROBES: readonly [Feature, number, string[]][] = [
  ['cls_u32', 1, U32],
  ['act_skbedit', 2, [...U32, 'action', 'skbedit', 'mark', '1']],
  ['act_police', 3, [...U32, 'action', 'police', 'pkts_rate', '1', 'pkts_burst', '1', 'conform-exceed', 'pass/pipe']],
  ['act_gact', 4, [...U32, 'action', 'gact', 'ok']],
  // classic BPF "ret -1" (one insn: code 6 = BPF_RET|BPF_K): needs only cls_bpf, no object file
  ['cls_bpf', 5, ['bpf', 'bytecode', '1,6 0 0 4294967295']],
];

function tool(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stderr ?? ''}${r.stdout ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}
const probeResult = (ok: boolean, what: string, out: string): Probe => ({ available: ok, detail: ok ? `${what}: accepted` : `${what}: ${out.split('\n')[0] || 'refused'}` });

let cached: Promise<Features> | undefined;

/** Probe every feature once per process (about 0.2 s) and return what was found. */
export function kernelFeatures(): Promise<Features> {
  cached ??= probeAll();
  return cached;
}

async function probeAll(): Promise<Features> {
  if (process.getuid?.() !== 0) throw new Error('kernel feature probes need root (use liveTest)');
  const ns = `pmprobe-${process.pid}-${randomBytes(3).toString('hex')}`;
  const out: Partial<Record<Feature, Probe>> = {};
  const must = (args: string[]): void => { const r = tool(IP, args); if (!r.ok) throw new Error(`probe setup: ip ${args.join(' ')}: ${r.out}`); };
  must(['netns', 'add', ns]);
  try {
    must(['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    must(['-n', ns, 'link', 'set', 'd0', 'up']);
    const q = tool(TC, ['-n', ns, 'qdisc', 'add', 'dev', 'd0', 'clsact']);
    for (const [f, prio, words] of TC_PROBES) {
      if (!q.ok) { out[f] = { available: false, detail: `no clsact qdisc: ${q.out}` }; continue; }
      const r = tool(TC, ['-n', ns, 'filter', 'add', 'dev', 'd0', 'ingress', 'prio', String(prio), 'protocol', 'all', ...words]);
      out[f] = probeResult(r.ok, `tc filter add … ${words.join(' ')}`, r.out);
    }
    const wg = tool(IP, ['-n', ns, 'link', 'add', 'wg0', 'type', 'wireguard']);
    out.wireguard = probeResult(wg.ok, 'ip link add wg0 type wireguard', wg.out);
    out.xdp_native_veth = await probeXdpNative(ns);
  } finally {
    spawnSync(IP, ['netns', 'del', ns]);
  }
  return out as Features;
}

export const kernelHas = async (f: Feature): Promise<boolean> => (await kernelFeatures())[f].available;

/** One line for t.log: which branch a test is asserting, and why. */
export async function describeFeatures(...fs: Feature[]): Promise<string> {
  const k = await kernelFeatures();
  return fs.map((f) => `${f}: ${k[f].available ? 'yes' : 'no'} (${k[f].detail})`).join('; ');
}

/** The cgroup v2 mount point from /proc/self/mountinfo (field 5 is the mount point, the fs type follows " - "). */
export function cgroup2Mount(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.split(' ')[0] === 'cgroup2') return pre.split(' ')[4]?.replace(/\\040/g, ' ');
  }
  return undefined;
}

// --- native XDP on veth: BPF_PROG_LOAD of `r0 = XDP_PASS; exit`, then RTM_SETLINK IFLA_XDP in driver mode
const SYS_bpf = 321; // x86_64
const BPF_PROG_LOAD = 5;
const BPF_PROG_TYPE_XDP = 6;
const XDP_FLAGS_DRV_MODE = 4;
const IFLA_XDP = 43, IFLA_XDP_FD = 1, IFLA_XDP_FLAGS = 3;
const RTM_SETLINK = 19;

function bpfLoadXdpPass(): { fd: number; errno: number } {
  const lib = koffi.load('libc.so.6');
  const syscall = lib.func('long syscall(long nr, int cmd, void *attr, unsigned int size)');
  // two insns: BPF_ALU64|BPF_MOV|BPF_K r0 = 2 (XDP_PASS); BPF_JMP|BPF_EXIT
  const insns = Buffer.from([0xb7, 0x00, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const license = Buffer.from('GPL\0');
  const attr = Buffer.alloc(128); // union bpf_attr, PROG_LOAD part: offsets from <linux/bpf.h>
  attr.writeUInt32LE(BPF_PROG_TYPE_XDP, 0);
  attr.writeUInt32LE(2, 4);
  attr.writeBigUInt64LE(BigInt(koffi.address(insns)), 8);
  attr.writeBigUInt64LE(BigInt(koffi.address(license)), 16);
  const fd = Number(syscall(SYS_bpf, BPF_PROG_LOAD, attr, attr.length));
  return { fd, errno: fd < 0 ? koffi.errno() : 0 };
}

async function probeXdpNative(ns: string): Promise<Probe> {
  let prog: { fd: number; errno: number };
  try { prog = bpfLoadXdpPass(); } catch (e) { return { available: false, detail: `bpf(BPF_PROG_LOAD) not callable: ${String(e)}` }; }
  if (prog.fd < 0) return { available: false, detail: `bpf(BPF_PROG_LOAD, XDP) failed: errno ${prog.errno}` };
  const close = koffi.load('libc.so.6').func('int close(int fd)');
  const s = NetlinkSocket.open({ protocol: NETLINK_ROUTE, netns: ns });
  try {
    const ifindex = (JSON.parse(tool(IP, ['-n', ns, '-j', 'link', 'show', 'd0']).out) as { ifindex: number }[])[0].ifindex;
    const w = new AttributeWriter(64);
    const seq = s.nextSeq();
    writeMessage(w, RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, () => {
      w.struct(ifinfomsg, { family: 0, type: 0, index: ifindex, flags: 0, change: 0 });
      w.nested(IFLA_XDP, () => { w.i32(IFLA_XDP_FD, prog.fd); w.u32(IFLA_XDP_FLAGS, XDP_FLAGS_DRV_MODE); });
    });
    const ack = (await s.exchange(w.finish(), { seq, until: 'ack' })).find((m) => m.header.seq === seq && m.header.type === NLMSG_ERROR);
    const r = ack ? decodeAck(ack) : undefined;
    if (r?.errno === 0) {
      // the oracle agrees: ip shows a driver-mode program on d0
      const shown = tool(IP, ['-n', ns, '-d', '-j', 'link', 'show', 'd0']).out;
      const mode = (JSON.parse(shown) as { xdp?: { mode?: number } }[])[0].xdp?.mode;
      return mode === 1 ? { available: true, detail: 'XDP program attached to veth in driver mode' } : { available: false, detail: `attach acknowledged but ip shows xdp mode ${mode}` };
    }
    return { available: false, detail: `XDP driver mode on veth refused: errno ${r?.errno ?? 'none'} ${r?.extack ?? ''}`.trim() };
  } finally { s.close(); close(prog.fd); }
}
