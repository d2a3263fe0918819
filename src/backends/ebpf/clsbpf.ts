/**
 * pktmark's cls_bpf filters (the bpf backend's markers and the xdp backend's metadata copy):
 * direct action, protocol all, named `pktmark/ROLE[+q]` (clsact.ts). Created with NLM_F_ECHO to
 * learn the prio and handle the kernel picked; replaced in place (`tc filter replace`'s flags) so
 * the new program takes over in one RCU update with no gap.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { RTM_NEWTFILTER, ETH_P_ALL } from '../../../codecs/tc/constants.js';
import { TCA_BPF_FLAG_ACT_DIRECT } from '../../../codecs/tc/classifiers/bpf.js';
import { decodeFilter, encodeDelFilter, encodeNewFilter, type DecodedFilter, type TcFilter } from '../../../codecs/tc/filter.js';
import { PktmarkError } from '../../errors.js';
import { execute } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';
import { bpfFilterName, filtersOf, ownerOfFilter, parentOf, type BpfFilterRole, type Direction } from '../clsact.js';

export interface BpfFilterPlace { readonly ifindex: number; readonly direction: Direction; readonly prio: number; readonly handle: number }

export function bpfFilter(p: BpfFilterPlace, fd: number, role: BpfFilterRole, qdiscOwned: boolean): TcFilter {
  return {
    ifindex: p.ifindex, parent: parentOf(p.direction), prio: p.prio, protocol: ETH_P_ALL, handle: p.handle,
    options: { kind: 'bpf', fd, name: bpfFilterName(role, qdiscOwned), flags: TCA_BPF_FLAG_ACT_DIRECT, extra: [] },
  };
}

/** The filter message `add` would send, for dry-run. */
export function encodeBpfFilter(seq: number, f: TcFilter, replace: boolean): Uint8Array {
  const w = new AttributeWriter(128);
  encodeNewFilter(w, seq, f, replace ? { replace: true } : { echo: true });
  return w.finish();
}

/** Create (echo: the kernel's prio and handle) or replace in place. */
export async function putBpfFilter(t: Transport, f: TcFilter, replace: boolean, op: string): Promise<BpfFilterPlace> {
  const replies = await execute(t, op, (w, seq) => encodeNewFilter(w, seq, f, replace ? { replace: true } : { echo: true }));
  const direction: Direction = f.parent === parentOf('egress') ? 'egress' : 'ingress';
  if (replace) return { ifindex: f.ifindex, direction, prio: f.prio, handle: f.handle };
  const echo = replies.find((m) => m.header.type === RTM_NEWTFILTER);
  if (!echo) throw new PktmarkError('KERNEL', `${op}: the kernel did not echo the new filter`, { field: 'dev' });
  const e = decodeFilter(echo);
  return { ifindex: f.ifindex, direction, prio: e.prio, handle: e.handle };
}

export async function deleteBpfFilter(t: Transport, p: BpfFilterPlace): Promise<void> {
  await execute(t, 'delete bpf filter', (w, seq) => encodeDelFilter(w, seq, { ifindex: p.ifindex, parent: parentOf(p.direction), prio: p.prio, protocol: ETH_P_ALL, handle: p.handle, kind: 'bpf' }));
}

export interface OwnedBpfFilter { readonly place: BpfFilterPlace; readonly progId: number; readonly qdiscOwned: boolean; readonly filter: DecodedFilter }

/** pktmark's cls_bpf filters of one role in one block (a dump's bare per-prio entries have no options and are skipped). */
export async function ownedBpfFilters(t: Transport, ifindex: number, direction: Direction, role: BpfFilterRole): Promise<OwnedBpfFilter[]> {
  const out: OwnedBpfFilter[] = [];
  for (const f of await filtersOf(t, ifindex, direction)) {
    const o = ownerOfFilter(f);
    if (o?.kind !== 'bpf' || o.role !== role || f.options?.kind !== 'bpf') continue;
    out.push({ place: { ifindex, direction, prio: f.prio, handle: f.handle }, progId: f.options.id ?? 0, qdiscOwned: o.qdiscOwned, filter: f });
  }
  return out;
}
