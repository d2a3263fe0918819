/**
 * The filter exchange of a tc add: the planned u32 filters in as few pipelined sendmsgs as their
 * handles allow. A filter whose priority's root table is known goes with the handle pktmark chose
 * (handles.ts) and no NLM_F_ECHO: the kernel builds no copy of it and nothing is decoded. Only the
 * first filter of a priority that does not exist yet goes without a handle and with the echo, which
 * says the root htid the kernel gave the new priority; that priority's other filters follow in the
 * next sendmsg. Within a priority the order is the rules' order; different priorities are
 * different tcf_protos, so which of them the kernel handles first changes nothing.
 */
import { decodeAck, NLMSG_ERROR, type NetlinkAck } from '../../../codecs/netlink/message.js';
import { ENOENT } from '../../../codecs/errno.js';
import { RTM_NEWTFILTER } from '../../../codecs/tc/constants.js';
import { decodeFilter, encodeGetFilter, encodeNewFilter, type DecodedFilter, type TcFilter } from '../../../codecs/tc/filter.js';
import { PktmarkError } from '../../errors.js';
import { execute } from '../../transport/execute.js';
import { SendPool } from '../../transport/send-pool.js';
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

/**
 * Each planned filter's table key. A bulk add is runs of filters on one device and priority: a
 * run shares the string of its first filter instead of formatting three numbers per filter.
 */
function tableKeys(planned: readonly PlannedFilter[]): string[] {
  const keys = new Array<string>(planned.length);
  let prev: TcFilter | undefined, key = '';
  for (let i = 0; i < planned.length; i++) {
    const f = planned[i].filter;
    if (prev === undefined || f.ifindex !== prev.ifindex || f.parent !== prev.parent || f.prio !== prev.prio) key = tableKey(planned[i]);
    keys[i] = key;
    prev = f;
  }
  return keys;
}

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
  const keys = tableKeys(planned);
  if (planned.some((p) => p.filter.prio === 0)) {
    for (const key of keys) tables.set(key, 'echo');
    return tables;
  }
  for (let i = 0; i < planned.length; i++) {
    const key = keys[i], f = planned[i].filter, p = planned[i];
    // a run of one priority is looked at once
    if ((i > 0 && key === keys[i - 1]) || tables.has(key)) continue;
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
  const n = planned.length;
  const out: FilterOutcome[] = new Array<FilterOutcome>(n);
  for (let i = 0; i < n; i++) out[i] = {};
  const keys = tableKeys(planned);
  // one round's filters as parallel arrays (index into planned, handle named, echo asked, seq):
  // no object per filter per round
  const index = new Uint32Array(n), handles = new Uint32Array(n), echo = new Uint8Array(n), seqs = new Uint32Array(n);
  let pending: number[] | undefined; // undefined: every filter, in order
  let stopAt = n;
  for (;;) {
    let count = 0;
    const later: number[] = [];
    const opening = new Set<string>();
    const todo = pending === undefined ? n : pending.length;
    for (let j = 0; j < todo; j++) {
      const i = pending === undefined ? j : pending[j];
      if (i >= stopAt) continue;
      const key = keys[i], table = tables.get(key);
      let handle = 0, echoed = 1;
      if (table instanceof RootTable) {
        // a full table: sent as tc would, for the kernel's own refusal
        const h = table.take();
        if (h !== undefined) { handle = h; echoed = 0; }
      } else if (table !== 'echo') {
        if (opening.has(key)) { later.push(i); continue; }
        opening.add(key);
      }
      index[count] = i; handles[count] = handle; echo[count] = echoed; count++;
    }
    if (count === 0) break;
    // a reused zeroed buffer (the transport borrows the bytes only until the exchange settles):
    // fresh memory costs a fault per 4 KiB touched, and so does heap memory reused after the
    // process started a child (copy-on-write; see send-pool.ts), which SendPool's buffers never are
    const w = tcBatchPool.take(256 * count);
    let replies;
    try {
      let last = 0;
      for (let b = 0; b < count; b++) {
        seqs[b] = last = t.nextSeq();
        // only the last asks for an ack: rtnetlink handles the messages of one sendmsg in order and
        // answers every refusal, so a filter with no answer before that ack went in (and no
        // recvmsg per filter is spent on acks that say so)
        encodeNewFilter(w, last, planned[index[b]].filter, { echo: echo[b] === 1, ack: b === count - 1, handle: handles[b] || planned[index[b]].filter.handle });
      }
      replies = await t.exchange(w.finish(), { seq: last, until: 'ack' });
    } finally {
      tcBatchPool.give(w);
    }
    const refused = new Map<number, NetlinkAck>();
    const echoes = new Map<number, DecodedFilter>();
    for (const m of replies) {
      if (m.header.type === RTM_NEWTFILTER) echoes.set(m.header.seq, decodeFilter(m));
      else if (m.header.type === NLMSG_ERROR) {
        const ack = decodeAck(m);
        if (ack.errno !== 0) refused.set(ack.request.seq, ack);
      }
    }
    for (let b = 0; b < count; b++) {
      const i = index[b], seq = seqs[b], o = out[i], handle = handles[b];
      if (handle) o.chosen = handle;
      const ack = refused.size === 0 ? undefined : refused.get(seq);
      if (ack) {
        o.refused = ack;
        if (opts.atomic) stopAt = Math.min(stopAt, i);
        continue;
      }
      if (echo[b] === 0) { o.handle = handle; continue; }
      const e = echoes.get(seq);
      if (!e) continue; // the caller reports the missing echo
      o.handle = e.handle;
      o.echo = e;
      const key = keys[i], table = tables.get(key);
      if (table instanceof RootTable) table.mark(e.handle);
      else if (table === undefined) tables.set(key, new RootTable(htidOf(e.handle), [e.handle & 0xfff]));
    }
    if (later.length === 0) break;
    pending = later;
  }
  return out;
}

/** from 64 KiB (~250 filters) up a batch gets a mapped buffer; a few filters' heap buffer costs a fault or two (exported: an idle agent gives its pages back) */
export const tcBatchPool = new SendPool(16 << 20, 64 << 10);
