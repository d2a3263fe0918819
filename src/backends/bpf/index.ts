/**
 * The bpf backend: a cls_bpf direct-action program (codecs/bpf tcMarkerProgram) on a device's
 * clsact ingress or egress, holding all of that place's rules in slot order, with one config map
 * (ebpf/set.ts) that stores each rule and its counters. Adding or deleting a rule compiles the
 * place's program anew against the same map (the other rules' counters and token buckets
 * survive) and swaps it in with `tc filter replace` on the same prio and handle: the other rules
 * mark throughout. Ids are `bpf:DEV:ingress|egress:SLOT`; a slot is the rule's for its life.
 *
 * Capabilities: loading needs CAP_BPF + CAP_NET_ADMIN (or CAP_SYS_ADMIN); the filter needs
 * CAP_NET_ADMIN; finding an attached program's map again (add to a place that has rules, list,
 * delete) needs CAP_SYS_ADMIN (BPF_PROG_GET_FD_BY_ID). clear needs only CAP_NET_ADMIN.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { CONFIG_MAP_REF, PKTMARK_TC_PROG, tcMarkerProgram, validateSpec, type BpfProgram, type SlotRule } from '../../../codecs/bpf/programs/index.js';
import { disassemble } from '../../../codecs/bpf/disasm.js';
import { encodeNewIngressQdisc } from '../../../codecs/tc/qdisc.js';
import { PktmarkError } from '../../errors.js';
import { parseIfName, type MarkRule } from '../../rule.js';
import { NETLINK_ROUTE, type Transport } from '../../transport/transport.js';
import type { AddOptions, Backend, BackendContext, EncodeContext, RuleRecord } from '../backend.js';
import { allLinks, directionsOf, ingressQdiscs, linkOf, prepareClsact, removeClsactIfUnused, type Direction, type Undo } from '../clsact.js';
import { bpfFilter, deleteBpfFilter, encodeBpfFilter, ownedBpfFilters, putBpfFilter, type OwnedBpfFilter } from '../ebpf/clsbpf.js';
import { programBytes } from '../ebpf/load.js';
import { checkDeviceRule, linkHeaderLen, slotRecord } from '../ebpf/rules.js';
import { checkSize, clearSlots, Fds, freeSlots, load, newConfigMap, openSet, slotRules, writeSlots, type OpenSet } from '../ebpf/set.js';
import { ruleToSpec, taggedSpec } from '../ebpf/spec.js';
import { ruleText } from '../ebpf/text.js';
import { bpfFields } from './fields.js';
import { probeBpf } from './probe.js';

export const bpfId = (dev: string, direction: Direction, slot: number): string => `bpf:${dev}:${direction}:${slot}`;
export function parseBpfId(id: string): { dev: string; direction: Direction; slot: number } {
  const bad = (): never => { throw new PktmarkError('INVALID_ID', `${JSON.stringify(id)} is not a bpf rule id (bpf:DEV:ingress|egress:SLOT, e.g. bpf:eth0:ingress:0)`, { field: 'id' }); };
  const m = typeof id === 'string' ? /^bpf:([^:]+):(ingress|egress):(\d{1,4})$/.exec(id) : null;
  if (!m) return bad();
  try { parseIfName(m[1], 'id', false); } catch { return bad(); }
  return { dev: m[1], direction: m[2] as Direction, slot: Number(m[3]) };
}

function checkBpfRule(r: MarkRule): void {
  checkDeviceRule(r, 'bpf');
  validateSpec(ruleToSpec(r));
}

const whereOf = (dev: string, direction: Direction): string => `dev ${dev} ${direction}`;
const program = (rules: readonly SlotRule[], headerLen: 0 | 14): BpfProgram => tcMarkerProgram(rules, { config: CONFIG_MAP_REF }, { linkHeaderLen: headerLen });

interface Group { readonly dev: string; readonly direction: Direction; readonly items: { r: MarkRule; i: number }[] }
function groups(rules: readonly MarkRule[]): Group[] {
  const m = new Map<string, Group>();
  rules.forEach((r, i) => {
    const direction = r.direction ?? 'ingress', k = `${r.dev}/${direction}`;
    const g = m.get(k) ?? { dev: r.dev!, direction, items: [] };
    g.items.push({ r, i });
    m.set(k, g);
  });
  return [...m.values()];
}

/** The prio the place's filter has or gets; rules asking for another one are refused (one filter per place). */
function placePrio(g: Group, existing: OwnedBpfFilter | undefined): number {
  const asked = [...new Set(g.items.map((x) => x.r.prio).filter((p): p is number => p !== undefined))];
  const have = existing?.place.prio;
  if (asked.length > 1 || (have !== undefined && asked.length === 1 && asked[0] !== have)) {
    throw new PktmarkError('INVALID_OPTION', `${whereOf(g.dev, g.direction)} holds one pktmark program${have !== undefined ? ` at prio ${have}` : ''}; its rules cannot ask for prio ${asked.join(' and ')}`, { field: 'prio', hint: have !== undefined ? `omit prio, or give prio ${have}` : 'give every rule of this device and direction the same prio' });
  }
  return have ?? asked[0] ?? 0;
}

async function addAll(rules: readonly MarkRule[], ctx: BackendContext, tags: AddOptions['tags'] = []): Promise<RuleRecord[]> {
  for (const r of rules) checkBpfRule(r);
  const t = await ctx.transport(NETLINK_ROUTE);
  const fds = new Fds(await ctx.bpf());
  const undo: Undo = [];
  const out: RuleRecord[] = [];
  try {
    for (const g of groups(rules)) {
      const where = whereOf(g.dev, g.direction);
      const link = await linkOf(t, g.dev);
      const st = await prepareClsact(t, g.dev, g.direction, undo, link.index);
      const existing = (await ownedBpfFilters(t, link.index, g.direction, 'bpf'))[0];
      const prio = placePrio(g, existing);
      const set = existing ? openSet(fds, existing.progId, PKTMARK_TC_PROG, where) : undefined;
      const slots = freeSlots(set?.slots ?? [], g.items.length, where);
      const added: SlotRule[] = g.items.map((x, k) => ({ slot: slots[k], spec: taggedSpec(x.r, tags[x.i]) }));
      const p = program([...slotRules(set?.slots ?? [], where), ...added], linkHeaderLen(link));
      checkSize(p); // BPF_TOO_LARGE before any map or program is made
      const mapFd = set?.mapFd ?? newConfigMap(fds);
      // the running program does not read slots it was not compiled with: writing them first is safe
      writeSlots(fds.sys, mapFd, added);
      if (set) undo.push(async () => clearSlots(fds.sys, mapFd, slots));
      const fd = load(fds, p, mapFd);
      const qdiscOwned = st.qdiscOwned || (existing?.qdiscOwned ?? false);
      if (existing && set) {
        await putBpfFilter(t, bpfFilter(existing.place, fd, 'bpf', qdiscOwned), true, `replace bpf filter on ${where}`);
        undo.push(async () => { await putBpfFilter(t, bpfFilter(existing.place, set.progFd, 'bpf', existing.qdiscOwned), true, `restore bpf filter on ${where}`); });
      } else {
        const place = await putBpfFilter(t, bpfFilter({ ifindex: link.index, direction: g.direction, prio, handle: 0 }, fd, 'bpf', qdiscOwned), false, `add bpf filter on ${where}`);
        undo.push(() => deleteBpfFilter(t, place));
      }
      g.items.forEach((x, k) => {
        out[x.i] = { id: bpfId(g.dev, g.direction, slots[k]), via: 'bpf', rule: x.r, packets: 0, bytes: 0, text: ruleText('bpf', where, added[k].spec), ...(tags[x.i] ? { applyTag: tags[x.i] } : {}) };
      });
    }
    return out;
  } catch (e) {
    for (const u of undo.reverse()) { try { await u(); } catch { /* best effort: report the original error */ } }
    throw e;
  } finally {
    fds.closeAll(); // the filter holds the program, the program holds the map
  }
}

interface Place { readonly dev: string; readonly ifindex: number; readonly direction: Direction; readonly filter: OwnedBpfFilter }

async function places(t: Transport): Promise<Place[]> {
  const links = await allLinks(t);
  const out: Place[] = [];
  for (const [ifindex, q] of await ingressQdiscs(t)) {
    for (const direction of directionsOf(q)) {
      for (const filter of await ownedBpfFilters(t, ifindex, direction, 'bpf')) out.push({ dev: links.get(ifindex)?.name ?? `if${ifindex}`, ifindex, direction, filter });
    }
  }
  return out;
}

async function deleteIds(ids: readonly string[], ctx: BackendContext): Promise<void> {
  const parsed = ids.map(parseBpfId);
  const t = await ctx.transport(NETLINK_ROUTE);
  const all = await places(t);
  const fds = new Fds(await ctx.bpf());
  const undo: Undo = [];
  try {
    // resolve every id first: an unknown one deletes nothing
    const work = new Map<Place, { set: OpenSet; slots: Set<number> }>();
    for (const [k, id] of parsed.entries()) {
      const pl = all.find((p) => p.dev === id.dev && p.direction === id.direction);
      let w = pl && work.get(pl);
      if (pl && !w) { w = { set: openSet(fds, pl.filter.progId, PKTMARK_TC_PROG, whereOf(pl.dev, pl.direction)), slots: new Set() }; work.set(pl, w); }
      if (!pl || !w || !w.set.slots.some((s) => s.slot === id.slot)) throw new PktmarkError('NOT_FOUND', `no bpf rule ${ids[k]}`, { field: 'id' });
      w.slots.add(id.slot);
    }
    for (const [pl, { set, slots }] of work) {
      const where = whereOf(pl.dev, pl.direction);
      const left = set.slots.filter((s) => !slots.has(s.slot));
      if (left.length === 0) {
        await deleteBpfFilter(t, pl.filter.place);
        undo.push(async () => { await putBpfFilter(t, bpfFilter(pl.filter.place, set.progFd, 'bpf', pl.filter.qdiscOwned), false, `restore bpf filter on ${where}`); });
        await removeClsactIfUnused(t, pl.ifindex, pl.filter.qdiscOwned);
        continue;
      }
      const link = await linkOf(t, pl.dev);
      const fd = load(fds, program(slotRules(left, where), linkHeaderLen(link)), set.mapFd);
      await putBpfFilter(t, bpfFilter(pl.filter.place, fd, 'bpf', pl.filter.qdiscOwned), true, `replace bpf filter on ${where}`);
      undo.push(async () => { await putBpfFilter(t, bpfFilter(pl.filter.place, set.progFd, 'bpf', pl.filter.qdiscOwned), true, `restore bpf filter on ${where}`); });
      // after the swap no program reads them: free the slots for later rules
      clearSlots(fds.sys, set.mapFd, [...slots]);
    }
  } catch (e) {
    for (const u of undo.reverse()) { try { await u(); } catch { /* best effort */ } }
    throw e;
  } finally {
    fds.closeAll();
  }
}

export const bpfBackend: Backend<'bpf'> = {
  ...bpfFields,
  summary: 'a cls_bpf program on a device (one per device and direction, all its rules; no tc action needed)',
  idFormat: 'bpf:DEV:ingress|egress:SLOT',
  where: (r) => `${r.dev} ${r.direction ?? 'ingress'} (cls_bpf)`,
  probe: probeBpf,

  /** Dry run: assumes a device with no qdisc and no pktmark program yet (slots from 0); the program fd is the placeholder 0. */
  encodeAdd(rules: readonly MarkRule[], ctx: EncodeContext, opts: AddOptions = {}): Uint8Array[] {
    refuseBefore(opts);
    if (!ctx.ifindex) throw new PktmarkError('INVALID_OPTION', 'encoding a bpf rule needs the device ifindex', { field: 'dev', hint: 'pass ifindex (CLI: --ifindex N)' });
    for (const r of rules) checkBpfRule(r);
    const out: Uint8Array[] = [];
    const made = new Set<string>();
    for (const g of groups(rules)) {
      const ifindex = ctx.ifindex(g.dev);
      if (!made.has(g.dev)) { const w = new AttributeWriter(64); encodeNewIngressQdisc(w, ctx.nextSeq(), ifindex, 'clsact'); out.push(w.finish()); made.add(g.dev); }
      out.push(encodeBpfFilter(ctx.nextSeq(), bpfFilter({ ifindex, direction: g.direction, prio: placePrio(g, undefined), handle: 0 }, 0, 'bpf', true), false));
    }
    return out;
  },
  encodePrograms: (rules) => bpfPrograms(rules),
  add: (rules, ctx, opts: AddOptions = {}) => { refuseBefore(opts); return addAll(rules, ctx, opts.tags); },

  async list(ctx: BackendContext): Promise<RuleRecord[]> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const found = await places(t);
    if (found.length === 0) return []; // no bpf() (and no CAP_SYS_ADMIN) needed when there is nothing
    const fds = new Fds(await ctx.bpf());
    try {
      return found.flatMap((pl) => openSet(fds, pl.filter.progId, PKTMARK_TC_PROG, whereOf(pl.dev, pl.direction)).slots.map((s) =>
        slotRecord(bpfId(pl.dev, pl.direction, s.slot), 'bpf', bpfFields, { dev: pl.dev, direction: pl.direction, prio: pl.filter.place.prio }, `${whereOf(pl.dev, pl.direction)} prio ${pl.filter.place.prio}`, s)));
    } finally { fds.closeAll(); }
  },

  delete: deleteIds,

  /** Every pktmark/bpf filter goes (no bpf() needed: the kernel frees program and map with it), then pktmark's empty clsacts. */
  async clear(ctx: BackendContext): Promise<void> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const owned = new Map<number, boolean>();
    for (const pl of await places(t)) {
      await deleteBpfFilter(t, pl.filter.place);
      owned.set(pl.ifindex, (owned.get(pl.ifindex) ?? false) || pl.filter.qdiscOwned);
    }
    for (const [ifindex, q] of owned) await removeClsactIfUnused(t, ifindex, q);
  },

  explain(rule: MarkRule): string {
    checkBpfRule(rule);
    const p = program([{ slot: 0, spec: ruleToSpec(rule) }], 14);
    const lines = disassemble(programBytes(p));
    return [
      ruleText('bpf', whereOf(rule.dev!, rule.direction ?? 'ingress'), ruleToSpec(rule)),
      `# cls_bpf direct-action program ${p.name} (${lines.length} instructions, this rule alone in slot 0; map fd placeholder 0); the device's program holds all its rules`,
      ...lines,
    ].join('\n');
  },
};

function refuseBefore(opts: AddOptions): void {
  if (opts.before !== undefined || opts.first) {
    throw new PktmarkError('UNSUPPORTED', 'a bpf program runs its rules in slot order; there is no inserting before another rule', { field: opts.first ? 'first' : 'before' });
  }
}

/** The program one place would run with these rules (dry-run's instruction bytes). */
export function bpfPrograms(rules: readonly MarkRule[]): { name: string; where: string; insns: Uint8Array }[] {
  return groups(rules).map((g) => {
    const p = program(g.items.map((x, k) => ({ slot: k, spec: ruleToSpec(x.r) })), 14);
    return { name: p.name, where: whereOf(g.dev, g.direction), insns: programBytes(p) };
  });
}
