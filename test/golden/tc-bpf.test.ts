/**
 * Golden bytes for cls_bpf and IFLA_XDP: pktmark's encoders against what /usr/sbin/tc and
 * /usr/sbin/ip sent (fixtures/tc/bpf-da.json, xdp-generic.json, made by fixtures/capture-tc-bpf.sh).
 * Whole messages, header included, seq and port id zeroed. The program fd is the one placeholder:
 * each fixture records the fd tc/ip got from BPF_OBJ_GET (`progFd`), and the encoder is given the
 * same number. The filter name is tc's own annotation for a pinned program ("copy:[*fsobj]");
 * pktmark writes its owner name in the same attribute (TCA_BPF_NAME).
 */
import test from 'ava';
import { loadFixture } from '../helpers/fixtures.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { decodeFilter, encodeDelFilter, encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { TCA_BPF_FLAG_ACT_DIRECT } from '../../codecs/tc/classifiers/bpf.js';
import { ETH_P_ALL, PARENT_INGRESS } from '../../codecs/tc/constants.js';
import { encodeSetXdp, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST } from '../../codecs/tc/xdp.js';

/** a cls_bpf / XDP capture (schema 1): d0's ifindex, and per run its command as one string and progFd */
function load(name: string): { ifindex: number; runs: { command: string; messages: readonly string[]; progFd?: number }[] } {
  const f = loadFixture('tc', name);
  return { ifindex: f.ifindex!, runs: f.runs.map((r) => ({ command: r.command.join(' '), messages: r.messages, ...(r.progFd !== undefined ? { progFd: r.progFd } : {}) })) };
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const norm = (h: string): string => { const b = Buffer.from(h, 'hex'); for (const m of parseMessages(b)) b.fill(0, m.offset + 8, m.offset + 16); return b.toString('hex'); };
const enc = (fill: (w: AttributeWriter) => void): string => { const w = new AttributeWriter(); fill(w); return norm(hex(w.finish())); };

const bpfDa = load('bpf-da');
const filter = (fd: number | undefined, handle: number): TcFilter => ({
  ifindex: bpfDa.ifindex, parent: PARENT_INGRESS, prio: 1, protocol: ETH_P_ALL, handle,
  options: { kind: 'bpf', ...(fd === undefined ? {} : { fd }), name: 'copy:[*fsobj]', flags: TCA_BPF_FLAG_ACT_DIRECT, extra: [] },
});

test('tc filter add … bpf da pinned P: the whole RTM_NEWTFILTER', (t) => {
  const run = bpfDa.runs.find((r) => r.command.includes('filter add'))!;
  t.is(enc((w) => encodeNewFilter(w, 0, filter(run.progFd!, 0))), run.messages[run.messages.length - 1]);
});

test('tc filter replace … handle 1 bpf da: REQUEST|ACK|CREATE, no EXCL', (t) => {
  const run = bpfDa.runs.find((r) => r.command.includes('filter replace'))!;
  t.is(enc((w) => encodeNewFilter(w, 0, filter(run.progFd!, 1), { replace: true })), run.messages[run.messages.length - 1]);
});

test('tc filter del … handle 1 bpf (no protocol word: tc sends protocol 0)', (t) => {
  const run = bpfDa.runs.find((r) => r.command.includes('filter del'))!;
  t.is(enc((w) => encodeDelFilter(w, 0, { ifindex: bpfDa.ifindex, parent: PARENT_INGRESS, prio: 1, protocol: 0, handle: 1, kind: 'bpf' })), run.messages[run.messages.length - 1]);
});

test('the cls_bpf options decode back (fd, name, direct action)', (t) => {
  const run = bpfDa.runs.find((r) => r.command.includes('filter add'))!;
  const f = decodeFilter(parseMessages(Buffer.from(run.messages.at(-1)!, 'hex'))[0]);
  t.like(f.options, { kind: 'bpf', fd: run.progFd!, name: 'copy:[*fsobj]', flags: TCA_BPF_FLAG_ACT_DIRECT });
});

const xdp = load('xdp-generic');
test('ip link set dev D xdpgeneric pinned P: RTM_NEWLINK with IFLA_XDP { FD, FLAGS }', (t) => {
  const run = xdp.runs[0];
  t.is(enc((w) => encodeSetXdp(w, 0, { ifindex: xdp.ifindex, fd: run.progFd!, flags: XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE })), run.messages[run.messages.length - 1]);
});

test('ip link set dev D xdpgeneric off: fd -1', (t) => {
  const run = xdp.runs[1];
  t.is(enc((w) => encodeSetXdp(w, 0, { ifindex: xdp.ifindex, fd: -1, flags: XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE })), run.messages[run.messages.length - 1]);
});
