/**
 * Attaching the XDP half of the pair (IFLA_XDP over rtnetlink), and choosing its mode.
 *
 * Mode: native (XDP_FLAGS_DRV_MODE) only where the driver is known to run the program with a
 * metadata area: a driver with native XDP but without metadata support makes
 * bpf_xdp_adjust_meta fail at run time, and the pair would mark nothing. No kernel interface says
 * whether a driver supports metadata (the netdev family's xdp-features do not cover it), and a
 * test packet would disturb the device's traffic, so the check is a feature list by driver kind:
 * IFLA_INFO_KIND "veth" (veth_xdp_rcv prepares the buffer with meta_valid; proven by the packet
 * tests). Every other device — hardware NICs report no kind over rtnetlink — gets generic mode
 * (XDP_FLAGS_SKB_MODE), which always has metadata. A native attach the driver refuses (an MTU
 * too large for XDP, no ndo_bpf) also falls back to generic. A device keeps its mode on replace.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import type { Link } from '../../../codecs/tc/link.js';
import {
  encodeSetXdp, XDP_ATTACHED_DRV, XDP_ATTACHED_NONE, XDP_ATTACHED_SKB, XDP_FLAGS_DRV_MODE, XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST, type XdpRequest,
} from '../../../codecs/tc/xdp.js';
import { PktmarkError } from '../../errors.js';
import { execute } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';

export type XdpMode = 'native' | 'generic';
const FLAG: Readonly<Record<XdpMode, number>> = { native: XDP_FLAGS_DRV_MODE, generic: XDP_FLAGS_SKB_MODE };
/** driver kinds known to give native XDP programs a metadata area */
export const NATIVE_META_KINDS: readonly string[] = ['veth'];

export const preferredMode = (l: Link): XdpMode => (l.kind !== undefined && NATIVE_META_KINDS.includes(l.kind) ? 'native' : 'generic');

/** The program attached now and its mode; a hardware-offloaded or multi-mode attachment is not pktmark's kind. */
export function attachedOf(l: Link): { progId: number; mode: XdpMode } | undefined {
  const x = l.xdp;
  if (!x || x.attached === XDP_ATTACHED_NONE) return undefined;
  if (x.attached === XDP_ATTACHED_DRV || x.attached === XDP_ATTACHED_SKB) return { progId: x.progId ?? 0, mode: x.attached === XDP_ATTACHED_DRV ? 'native' : 'generic' };
  throw new PktmarkError('NOT_OWNED', `${l.name} has an XDP program attached in hardware or in more than one mode; pktmark leaves it alone`, { field: 'dev' });
}

export function encodeXdp(seq: number, r: XdpRequest): Uint8Array {
  const w = new AttributeWriter(64);
  encodeSetXdp(w, seq, r);
  return w.finish();
}
const set = (t: Transport, op: string, r: XdpRequest): Promise<unknown> => execute(t, op, (w, seq) => encodeSetXdp(w, seq, r));

export const newAttachRequest = (ifindex: number, fd: number, mode: XdpMode): XdpRequest => ({ ifindex, fd, flags: FLAG[mode] | XDP_FLAGS_UPDATE_IF_NOEXIST });

/** First attach: the preferred mode, generic when native is refused. Resolves to the mode used. */
export async function attachNew(t: Transport, l: Link, fd: number): Promise<XdpMode> {
  const mode = preferredMode(l);
  try {
    await set(t, `attach XDP (${mode}) on ${l.name}`, newAttachRequest(l.index, fd, mode));
    return mode;
  } catch (e) {
    if (mode === 'generic' || !(e instanceof PktmarkError) || e.code === 'EPERM') throw e;
    await set(t, `attach XDP (generic) on ${l.name}`, newAttachRequest(l.index, fd, 'generic'));
    return 'generic';
  }
}

/** Swap `oldFd` for `fd` atomically (the kernel refuses with EEXIST if `oldFd` is no longer the attached one); fd -1 detaches. */
export async function replaceXdp(t: Transport, l: Link, mode: XdpMode, fd: number, oldFd: number): Promise<void> {
  await set(t, `${fd < 0 ? 'detach' : 'replace'} XDP on ${l.name}`, { ifindex: l.index, fd, flags: FLAG[mode] | XDP_FLAGS_REPLACE, expectedFd: oldFd });
}
