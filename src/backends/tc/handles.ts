/**
 * u32 node ids chosen by pktmark instead of learnt from an echo per filter. A u32 handle is
 * htid(12b):bucket(8b):node(12b); a mark rule's node sits in its priority's root table, whose htid
 * the kernel hands out when the priority is created (cyclically, per qdisc: 800:, then 801:, …).
 *
 * A request that names the whole handle (root htid | node) is checked by the kernel on every
 * version: tc_new_tfilter (net/sched/cls_api.c) looks the handle up first (taken: EEXIST under
 * NLM_F_EXCL), and u32_change (cls_u32.c) refuses an htid that is not the root's ("Handle specified
 * hash table address mismatch", EINVAL). So a node another writer took, or a priority replaced
 * meanwhile by one with another htid, is refused: the filter goes exactly where its handle says
 * or nowhere, never under another id. (The shorter form htid 0 | node also
 * becomes root | node, but only idr kernels, 4.15+, refuse a taken node there, with a bare ENOSPC,
 * and it would not tell a replaced priority apart: pktmark does not use it.)
 */
export const htidOf = (handle: number): number => (handle & 0xfff00000) >>> 0;
export const nodeOf = (handle: number): number => handle & 0xfff;

/** The node ids of one root table, taken in the order the kernel's gen_new_kid would pick them. */
export class RootTable {
  private readonly used: Set<number>;
  private cursor = 0x800;
  constructor(readonly htid: number, used: Iterable<number> = []) {
    this.used = new Set(used);
  }

  /**
   * The next free node as gen_new_kid (cls_u32.c) picks it: the lowest free of 0x800–0xfff, then of
   * 0x001–0x7ff; so on a table only pktmark fills the ids are those an echo would have reported.
   * Undefined when all 4095 are used (the kernel's "Hash table node ID pool exhausted").
   */
  take(): number | undefined {
    for (let tries = 0; tries < 0xfff; tries++) {
      const node = this.cursor;
      this.cursor = node === 0xfff ? 1 : node + 1;
      if (!this.used.has(node)) { this.used.add(node); return (this.htid | node) >>> 0; }
    }
    return undefined;
  }

  /** A node the kernel chose itself (the echoed first filter of a new priority). */
  mark(handle: number): void { this.used.add(nodeOf(handle)); }
}

/** The nodes of root table `htid` among a dump's u32 entries (hash tables and other tables' nodes left out). */
export function nodesIn(htid: number, handles: Iterable<number>): number[] {
  const out: number[] = [];
  for (const h of handles) if (htidOf(h) === htid && nodeOf(h) !== 0) out.push(nodeOf(h));
  return out;
}
