/**
 * The filter exchange of a tc add: the planned u32 filters in as few pipelined sendmsgs as their
 * handles allow. A filter whose priority's root table is known goes with the handle pktmark chose
 * (handles.ts) and no NLM_F_ECHO: the kernel builds no copy of it and nothing is decoded. Only the
 * first filter of a priority that does not exist yet goes without a handle and with the echo, which
 * says the root htid the kernel gave the new priority; that priority's other filters follow in the
 * next sendmsg. Within a priority the order is the rules' order; different priorities are
 * different tcf_protos, so which of them the kernel handles first changes nothing.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { decodeAck, NLMSG_ERROR, type NetlinkAck } from '../../../codecs/netlink/message.js';
import { ENOENT } from '../../../codecs/errno.js';
import { RTM_NEWTFILTER } from '../../../codecs/tc/constants.js';
import { decodeFilter, encodeGetFilter, encodeNewFilter, type DecodedFilter, type TcFilter } from '../../../codecs/tc/filter.js';
import { PktmarkError } from '../../errors.js';
import { execute } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';
import type { Direction } from '../clsact.js';
import { htidOf, nodesIn, RootTable } from './handles.js';

export interface PlannedFilter { readonly direction: Direction; readonly filter: TcFilter }

/** What became of one planned filter. */
export interface FilterOutcome {
  /** its handle, once the kernel took it */
  handle?: number;
  /** the kernel's copy (only for the filters sent with NLM_F_ECHO) */
  echo?: DecodedFilter;
  refused?: NetlinkAck;
  /** the handle pktmark named in the request: a refusal of it can be another writer's doing */
  chosen?: number;
}

/** A root table known to exist (its htid and used nodes), or 'echo': send as tc does, handle 0 and echo. */
export type TableState = RootTable | 'echo';
export const tableKey = (p: PlannedFilter): string => `${p.filter.ifindex}/${p.filter.parent}/${p.filter.prio}`;

const TC_U32_ROOT = 0xfff00000;

/**
 * The root tables of the planned priorities that already exist, from the dumps taken before the
 * add (`dumped` by ifindex/direction): the htid from `tc filter get … handle fff::`, the used nodes
 * from the dump. A priority the dump does not show is new (left out). A batch with a prio-0 rule
 * is sent all as tc does: the kernel's automatic prio depends on which priorities exist, so the
 * order in which they are created must stay the rules' order.
 */
export async function rootTables(t: Transport, planned: readonly PlannedFilter[], dumped: ReadonlyMap<string, readonly DecodedFilter[]>): Promise<Map<string, TableState>> {
  const tables = new Map<string, TableState>();
  if (planned.some((p) => p.filter.prio === 0)) {
    for (const p of planned) tables.set(tableKey(p), 'echo');
    return tables;
  }
  for (const p of planned) {
    const key = tableKey(p), f = p.filter;
    if (tables.has(key)) continue;
    const entries = dumped.get(`${f.ifindex}/${p.direction}`)?.filter((d) => d.prio === f.prio);
    if (!entries?.length) continue;
    try {
      const [answer] = await execute(t, 'get tc filter', (w, seq) => encodeGetFilter(w, seq, { ifindex: f.ifindex, parent: f.parent, prio: f.prio, protocol: f.protocol, handle: TC_U32_ROOT, kind: 'u32' }));
      const htid = answer?.header.type === RTM_NEWTFILTER ? htidOf(decodeFilter(answer).handle) : 0;
      tables.set(key, htid ? new RootTable(htid, nodesIn(htid, entries.map((d) => d.handle))) : 'echo');
    } catch (e) {
      // gone since the dump: a new priority; another kind or protocol there: the kernel refuses the add itself
      if (!(e instanceof PktmarkError && e.errno === ENOENT)) tables.set(key, 'echo');
    }
  }
  return tables;
}

/**
 * Send the planned filters (handle 0 in each) in rounds and say what became of each. Atomic: once
 * a filter is refused, no filter planned after it is sent (the caller undoes the rest), but the
 * ones before it still are, so the refusal reported is the first in rule order as with one batch.
 * A failed exchange throws; the caller finds what went in by a dump.
 */
export async function sendFilters(t: Transport, planned: readonly PlannedFilter[], tables: Map<string, TableState>, opts: { readonly atomic: boolean }): Promise<FilterOutcome[]> {
  const out: FilterOutcome[] = planned.map(() => ({}));
  let pending = planned.map((_, i) => i);
  let stopAt = planned.length;
  while (pending.length) {
    const batch: { i: number; handle: number; echo: boolean; seq?: number }[] = [];
    const later: number[] = [];
    const opening = new Set<string>();
    for (const i of pending) {
      if (i >= stopAt) continue;
      const key = tableKey(planned[i]), table = tables.get(key);
      if (table instanceof RootTable) {
        const handle = table.take();
        // a full table: sent as tc would, for the kernel's own refusal
        batch.push(handle === undefined ? { i, handle: 0, echo: true } : { i, handle, echo: false });
      } else if (table === 'echo') batch.push({ i, handle: 0, echo: true });
      else if (!opening.has(key)) { opening.add(key); batch.push({ i, handle: 0, echo: true }); }
      else later.push(i);
    }
    if (batch.length === 0) break;
    const w = new AttributeWriter(256 * batch.length);
    let last = 0;
    for (const [n, b] of batch.entries()) {
      const f = planned[b.i].filter;
      b.seq = last = t.nextSeq();
      // only the last asks for an ack: rtnetlink handles the messages of one sendmsg in order and
      // answers every refusal, so a filter with no answer before that ack went in (and no
      // recvmsg per filter is spent on acks that say so)
      encodeNewFilter(w, last, b.handle ? { ...f, handle: b.handle } : f, { echo: b.echo, ack: n === batch.length - 1 });
    }
    const replies = await t.exchange(w.finish(), { seq: last, until: 'ack' });
    const refused = new Map<number, NetlinkAck>();
    const echoes = new Map<number, DecodedFilter>();
    for (const m of replies) {
      if (m.header.type === RTM_NEWTFILTER) echoes.set(m.header.seq, decodeFilter(m));
      else if (m.header.type === NLMSG_ERROR) {
        const ack = decodeAck(m);
        if (ack.errno !== 0) refused.set(ack.request.seq, ack);
      }
    }
    for (const b of batch) {
      const seq = b.seq!, o = out[b.i];
      if (b.handle) o.chosen = b.handle;
      const ack = refused.get(seq);
      if (ack) {
        o.refused = ack;
        if (opts.atomic) stopAt = Math.min(stopAt, b.i);
        continue;
      }
      if (!b.echo) { o.handle = b.handle; continue; }
      const e = echoes.get(seq);
      if (!e) continue; // the caller reports the missing echo
      o.handle = e.handle;
      o.echo = e;
      const key = tableKey(planned[b.i]), table = tables.get(key);
      if (table instanceof RootTable) table.mark(e.handle);
      else if (table === undefined) tables.set(key, new RootTable(htidOf(e.handle), [e.handle & 0xfff]));
    }
    pending = later;
  }
  return out;
}
