/**
 * The clsact qdisc, shared by the tc, bpf and xdp backends, and the one ownership rule for it:
 * whoever of them creates a device's clsact records that in its filter (a u32 filter's owner
 * cookie flag, a cls_bpf filter's name suffix `+q`), every later pktmark filter on that device
 * copies the record, and the last pktmark filter of any kind to go removes the qdisc — only if
 * pktmark made it, and only if nothing else (a foreign filter) is attached to it by then.
 * Also the rtnetlink look-ups every device backend needs (device, qdiscs, filters of a block).
 */
import type { ApplyTag } from './backend.js';
import { EEXIST, ENODEV, ENOENT } from '../../codecs/errno.js';
import { PARENT_EGRESS, PARENT_INGRESS, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER, TC_H_INGRESS } from '../../codecs/tc/constants.js';
import { decodeFilter, encodeGetFilters, type DecodedFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { decodeLink, encodeGetLinkByName, encodeGetLinks, type Link } from '../../codecs/tc/link.js';
import { decodeQdisc, encodeDelIngressQdisc, encodeGetQdiscs, encodeNewIngressQdisc, type IngressKind } from '../../codecs/tc/qdisc.js';
import { PktmarkError } from '../errors.js';
import { dump, execute } from '../transport/execute.js';
import type { Transport } from '../transport/transport.js';
import { parseOwnerCookie } from './tc/rule.js';

export type Direction = 'ingress' | 'egress';
export const parentOf = (d: Direction): number => (d === 'egress' ? PARENT_EGRESS : PARENT_INGRESS);

// ---- look-ups ----------------------------------------------------------------------------------

export async function linkOf(t: Transport, dev: string): Promise<Link> {
  try {
    const r = await execute(t, `look up device ${dev}`, (w, seq) => encodeGetLinkByName(w, seq, dev));
    const link = r.find((m) => m.header.type === RTM_NEWLINK);
    if (!link) throw new PktmarkError('NOT_FOUND', `device ${dev} not found`, { field: 'dev' });
    return decodeLink(link);
  } catch (e) {
    if (e instanceof PktmarkError && (e.errno === ENODEV || e.errno === ENOENT)) {
      throw new PktmarkError('NOT_FOUND', `device ${JSON.stringify(dev)} does not exist in this network namespace`, { field: 'dev', errno: e.errno });
    }
    throw e;
  }
}
export const ifindexOf = async (t: Transport, dev: string): Promise<number> => (await linkOf(t, dev)).index;

export async function allLinks(t: Transport): Promise<Map<number, Link>> {
  const m = new Map<number, Link>();
  for (const msg of await dump(t, 'list devices', (w, seq) => encodeGetLinks(w, seq))) {
    if (msg.header.type === RTM_NEWLINK) { const l = decodeLink(msg); m.set(l.index, l); }
  }
  return m;
}
export async function linkNames(t: Transport): Promise<Map<number, string>> {
  return new Map([...(await allLinks(t))].map(([i, l]) => [i, l.name]));
}

/** The ingress-side qdisc (ingress or clsact at ffff:fff1) of each device that has one. */
export async function ingressQdiscs(t: Transport): Promise<Map<number, IngressKind>> {
  const out = new Map<number, IngressKind>();
  for (const msg of await dump(t, 'list qdiscs', (w, seq) => encodeGetQdiscs(w, seq))) {
    if (msg.header.type !== RTM_NEWQDISC) continue;
    const q = decodeQdisc(msg);
    if (q.parent === TC_H_INGRESS && (q.kind === 'ingress' || q.kind === 'clsact')) out.set(q.ifindex, q.kind);
  }
  return out;
}

export async function filtersOf(t: Transport, ifindex: number, direction: Direction): Promise<DecodedFilter[]> {
  const msgs = await dump(t, `list ${direction} filters`, (w, seq) => encodeGetFilters(w, seq, { ifindex, parent: parentOf(direction) }));
  return msgs.filter((m) => m.header.type === RTM_NEWTFILTER).map(decodeFilter);
}

export const directionsOf = (q: IngressKind): Direction[] => (q === 'clsact' ? ['ingress', 'egress'] : ['ingress']);

// ---- ownership -----------------------------------------------------------------------------------

/** What a cls_bpf filter of pktmark's holds: a bpf backend marker, or the xdp backend's metadata copy. */
export type BpfFilterRole = 'bpf' | 'xdpcp';
const NAME_PREFIX = 'pktmark/';
const QDISC_SUFFIX = '+q';

/** TCA_BPF_NAME of pktmark's cls_bpf filters: `pktmark/bpf`, `pktmark/xdpcp`, `+q` when pktmark made the clsact */
export const bpfFilterName = (role: BpfFilterRole, qdiscOwned: boolean): string => `${NAME_PREFIX}${role}${qdiscOwned ? QDISC_SUFFIX : ''}`;

export function parseBpfFilterName(name: string | undefined): { role: BpfFilterRole; qdiscOwned: boolean } | undefined {
  if (!name?.startsWith(NAME_PREFIX)) return undefined;
  const rest = name.slice(NAME_PREFIX.length);
  const qdiscOwned = rest.endsWith(QDISC_SUFFIX);
  const role = qdiscOwned ? rest.slice(0, -QDISC_SUFFIX.length) : rest;
  return role === 'bpf' || role === 'xdpcp' ? { role, qdiscOwned } : undefined;
}

export type FilterOwner =
  | { readonly kind: 'u32'; readonly qdiscOwned: boolean; readonly direction: Direction; readonly applyTag?: ApplyTag }
  | { readonly kind: 'bpf'; readonly qdiscOwned: boolean; readonly role: BpfFilterRole };

/** Whether a dumped filter is pktmark's, of any kind, and what it records. */
export function ownerOfFilter(f: TcFilter): FilterOwner | undefined {
  const o = f.options;
  if (o?.kind === 'u32') {
    for (const a of o.actions ?? []) {
      const c = parseOwnerCookie(a.cookie);
      if (c) return { kind: 'u32', ...c };
    }
  } else if (o?.kind === 'bpf') {
    const n = parseBpfFilterName(o.name);
    if (n) return { kind: 'bpf', ...n };
  }
  return undefined;
}

// ---- the qdisc ------------------------------------------------------------------------------------

export interface DevState { readonly ifindex: number; readonly qdisc: IngressKind; readonly created: boolean; readonly qdiscOwned: boolean }
export type Undo = (() => Promise<void>)[];

/**
 * The device's clsact (or classic ingress) qdisc: reused when there is one, else created, with
 * its removal pushed on `undo`. `qdiscOwned` is true when this call created it or a pktmark
 * filter of any kind on it says pktmark did.
 */
export async function prepareClsact(t: Transport, dev: string, direction: Direction, undo: Undo, ifindex?: number): Promise<DevState> {
  const index = ifindex ?? await ifindexOf(t, dev);
  let qdisc = (await ingressQdiscs(t)).get(index);
  let created = false;
  if (!qdisc) {
    try {
      await execute(t, `create clsact qdisc on ${dev}`, (w, seq) => encodeNewIngressQdisc(w, seq, index, 'clsact'));
      created = true;
      qdisc = 'clsact';
      undo.push(async () => { await execute(t, `remove clsact qdisc on ${dev}`, (w, seq) => encodeDelIngressQdisc(w, seq, index, 'clsact')); });
    } catch (e) {
      // another writer made one between our dump and our create: reuse it
      if (!(e instanceof PktmarkError && e.errno === EEXIST)) throw e;
      qdisc = (await ingressQdiscs(t)).get(index);
      if (!qdisc) throw e;
    }
  }
  if (qdisc === 'ingress' && direction === 'egress') {
    throw new PktmarkError('UNSUPPORTED', `${dev} has the classic ingress qdisc, which has no egress hook (clsact has both, but cannot replace it without removing its filters)`, {
      field: 'direction', hint: `use direction: 'ingress' on ${dev}, or replace its ingress qdisc by clsact yourself`,
    });
  }
  let qdiscOwned = created;
  if (!created) {
    for (const d of directionsOf(qdisc)) {
      for (const f of await filtersOf(t, index, d)) if (ownerOfFilter(f)?.qdiscOwned) qdiscOwned = true;
    }
  }
  return { ifindex: index, qdisc, created, qdiscOwned };
}

/**
 * After pktmark's filters on a device were removed: remove its clsact when pktmark made it
 * (`qdiscOwned`, as the removed filters recorded) and no filter of anyone is left on it.
 */
export async function removeClsactIfUnused(t: Transport, ifindex: number, qdiscOwned: boolean, qdiscs?: Map<number, IngressKind>): Promise<void> {
  if (!qdiscOwned) return;
  const q = (qdiscs ?? await ingressQdiscs(t)).get(ifindex);
  if (q !== 'clsact') return;
  let left = 0;
  for (const d of directionsOf(q)) left += (await filtersOf(t, ifindex, d)).length;
  if (left === 0) await execute(t, 'remove clsact qdisc', (w, seq) => encodeDelIngressQdisc(w, seq, ifindex, 'clsact'));
}
