/**
 * The xdp backend: the XDP metadata pair (codecs/bpf xdp-meta.ts) — an XDP program on the device
 * holding all of its rules, which puts the composed mark in front of the packet, and a cls_bpf
 * program on clsact ingress (filter `pktmark/xdpcp`) that copies it into skb->mark. A device
 * holds one XDP program: adding or deleting a rule compiles it anew against the same config map
 * and swaps it with XDP_FLAGS_REPLACE + IFLA_XDP_EXPECTED_FD, so the other rules mark throughout.
 * A device whose XDP program is not pktmark's is NOT_OWNED. Ids: `xdp:DEV:SLOT`.
 *
 * pktmark's XDP devices are found by their copy filter (always installed with the program), so
 * list/delete/clear never look at devices with only a foreign XDP program. Capabilities as for
 * bpf (index.ts there); clear needs CAP_SYS_ADMIN too, to check the XDP program is pktmark's.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { CONFIG_MAP_REF, PKTMARK_XDP_PROG, tcMetaCopyProgram, validateSpec, xdpMetaProgram, type SlotRule } from '../../../codecs/bpf/programs/index.js';
import { disassemble } from '../../../codecs/bpf/disasm.js';
import type { Link } from '../../../codecs/tc/link.js';
import { encodeNewIngressQdisc } from '../../../codecs/tc/qdisc.js';
import { PktmarkError } from '../../errors.js';
import { parseIfName, type MarkRule } from '../../rule.js';
import { NETLINK_ROUTE, type Transport } from '../../transport/transport.js';
import type { AddOptions, Backend, BackendContext, EncodeContext, RuleRecord } from '../backend.js';
import { allLinks, ingressQdiscs, linkOf, prepareClsact, removeClsactIfUnused, type Undo } from '../clsact.js';
import { bpfFilter, deleteBpfFilter, encodeBpfFilter, ownedBpfFilters, putBpfFilter, type OwnedBpfFilter } from '../ebpf/clsbpf.js';
import { programBytes } from '../ebpf/load.js';
import { checkDeviceRule, slotRecord } from '../ebpf/rules.js';
import { checkSize, clearSlots, Fds, freeSlots, load, newConfigMap, openSet, slotRules, writeSlots, type OpenSet } from '../ebpf/set.js';
import { ruleToSpec, taggedSpec } from '../ebpf/spec.js';
import { ruleText } from '../ebpf/text.js';
import { attachNew, attachedOf, encodeXdp, newAttachRequest, replaceXdp, type XdpMode } from './attach.js';
import { xdpFields } from './fields.js';
import { probeXdp } from './probe.js';

export const xdpId = (dev: string, slot: number): string => `xdp:${dev}:${slot}`;
export function parseXdpId(id: string): { dev: string; slot: number } {
  const bad = (): never => { throw new PktmarkError('INVALID_ID', `${JSON.stringify(id)} is not an xdp rule id (xdp:DEV:SLOT, e.g. xdp:eth0:0)`, { field: 'id' }); };
  const m = typeof id === 'string' ? /^xdp:([^:]+):(\d{1,4})$/.exec(id) : null;
  if (!m) return bad();
  try { parseIfName(m[1], 'id', false); } catch { return bad(); }
  return { dev: m[1], slot: Number(m[2]) };
}

// ARPHRD_ETHER, ARPHRD_LOOPBACK: the XDP program parses an Ethernet header
const ETHERNET_TYPES = new Set([1, 772]);
function checkXdpRule(r: MarkRule): void {
  checkDeviceRule(r, 'xdp');
  if (r.prio !== undefined) throw new PktmarkError('UNSUPPORTED', 'via "xdp": a device has one XDP program; there is no prio', { field: 'prio' });
  validateSpec(ruleToSpec(r));
}
const whereOf = (dev: string, mode?: XdpMode): string => `dev ${dev}${mode ? ` ${mode}` : ''}`;
const program = (rules: readonly SlotRule[]) => xdpMetaProgram(rules, { config: CONFIG_MAP_REF });

function byDevice(rules: readonly MarkRule[]): Map<string, { r: MarkRule; i: number }[]> {
  const m = new Map<string, { r: MarkRule; i: number }[]>();
  rules.forEach((r, i) => { const g = m.get(r.dev!) ?? []; g.push({ r, i }); m.set(r.dev!, g); });
  return m;
}

async function addAll(rules: readonly MarkRule[], ctx: BackendContext, tags: AddOptions['tags'] = []): Promise<RuleRecord[]> {
  for (const r of rules) checkXdpRule(r);
  const t = await ctx.transport(NETLINK_ROUTE);
  const fds = new Fds(await ctx.bpf());
  const undo: Undo = [];
  const out: RuleRecord[] = [];
  try {
    for (const [dev, items] of byDevice(rules)) {
      const link = await linkOf(t, dev);
      if (!ETHERNET_TYPES.has(link.type)) throw new PktmarkError('UNSUPPORTED', `via "xdp": ${dev} is not an Ethernet device (ARPHRD ${link.type}); the XDP program parses Ethernet frames`, { field: 'dev', hint: "use via: 'bpf'" });
      const attached = attachedOf(link);
      const set = attached ? openSet(fds, attached.progId, PKTMARK_XDP_PROG, whereOf(dev)) : undefined;
      const slots = freeSlots(set?.slots ?? [], items.length, whereOf(dev));
      const added: SlotRule[] = items.map((x, k) => ({ slot: slots[k], spec: taggedSpec(x.r, tags[x.i]) }));
      const p = program([...slotRules(set?.slots ?? [], whereOf(dev)), ...added]);
      checkSize(p);
      // the copy half first: metadata written before it exists would only be lost, never wrong
      const st = await prepareClsact(t, dev, 'ingress', undo, link.index);
      if (!(await ownedBpfFilters(t, link.index, 'ingress', 'xdpcp'))[0]) {
        const copyFd = load(fds, tcMetaCopyProgram(), -1);
        const place = await putBpfFilter(t, bpfFilter({ ifindex: link.index, direction: 'ingress', prio: 0, handle: 0 }, copyFd, 'xdpcp', st.qdiscOwned), false, `add xdp copy filter on ${dev}`);
        undo.push(() => deleteBpfFilter(t, place));
      }
      const mapFd = set?.mapFd ?? newConfigMap(fds);
      writeSlots(fds.sys, mapFd, added);
      if (set) undo.push(async () => clearSlots(fds.sys, mapFd, slots));
      const fd = load(fds, p, mapFd);
      let mode: XdpMode;
      if (attached && set) {
        mode = attached.mode;
        await replaceXdp(t, link, mode, fd, set.progFd);
        undo.push(() => replaceXdp(t, link, mode, set.progFd, fd));
      } else {
        mode = await attachNew(t, link, fd);
        const m = mode;
        undo.push(() => replaceXdp(t, link, m, -1, fd));
      }
      items.forEach((x, k) => { out[x.i] = { id: xdpId(dev, slots[k]), via: 'xdp', rule: x.r, packets: 0, bytes: 0, text: ruleText('xdp', whereOf(dev, mode), added[k].spec), ...(tags[x.i] ? { applyTag: tags[x.i] } : {}) }; });
    }
    return out;
  } catch (e) {
    for (const u of undo.reverse()) { try { await u(); } catch { /* best effort: report the original error */ } }
    throw e;
  } finally { fds.closeAll(); }
}

interface XdpDevice { readonly link: Link; readonly copy: OwnedBpfFilter; readonly attached?: { progId: number; mode: XdpMode } }

/** Devices with pktmark's copy filter, and their XDP program if any (a device that vanished took both with it). */
async function devices(t: Transport): Promise<XdpDevice[]> {
  const links = await allLinks(t);
  const out: XdpDevice[] = [];
  for (const [ifindex, q] of await ingressQdiscs(t)) {
    const link = links.get(ifindex);
    if (!link || q !== 'clsact') continue;
    const copy = (await ownedBpfFilters(t, ifindex, 'ingress', 'xdpcp'))[0];
    if (!copy) continue;
    let attached: XdpDevice['attached'];
    try { attached = attachedOf(link); } catch { attached = undefined; }
    out.push({ link, copy, ...(attached ? { attached } : {}) });
  }
  return out;
}

/** pktmark's XDP program on a device, or undefined when a foreign one (or none) is there. */
function ownSet(fds: Fds, d: XdpDevice): OpenSet | undefined {
  if (!d.attached) return undefined;
  try { return openSet(fds, d.attached.progId, PKTMARK_XDP_PROG, whereOf(d.link.name)); } catch (e) {
    if (e instanceof PktmarkError && e.code === 'NOT_OWNED') return undefined;
    throw e;
  }
}

/** The device loses its last rule: detach pktmark's program, remove the copy filter, then the clsact if it was pktmark's. */
async function removeDevice(t: Transport, d: XdpDevice, set: OpenSet | undefined): Promise<void> {
  if (set && d.attached) await replaceXdp(t, d.link, d.attached.mode, -1, set.progFd);
  await deleteBpfFilter(t, d.copy.place);
  await removeClsactIfUnused(t, d.link.index, d.copy.qdiscOwned);
}

async function deleteIds(ids: readonly string[], ctx: BackendContext): Promise<void> {
  const parsed = ids.map(parseXdpId);
  const t = await ctx.transport(NETLINK_ROUTE);
  const all = await devices(t);
  const fds = new Fds(await ctx.bpf());
  const undo: Undo = [];
  try {
    const work = new Map<XdpDevice, { set: OpenSet; slots: Set<number> }>();
    for (const [k, id] of parsed.entries()) {
      const d = all.find((x) => x.link.name === id.dev);
      let w = d && work.get(d);
      if (d && !w) { const set = ownSet(fds, d); if (set) { w = { set, slots: new Set() }; work.set(d, w); } }
      if (!w || !w.set.slots.some((s) => s.slot === id.slot)) throw new PktmarkError('NOT_FOUND', `no xdp rule ${ids[k]}`, { field: 'id' });
      w.slots.add(id.slot);
    }
    for (const [d, { set, slots }] of work) {
      const left = set.slots.filter((s) => !slots.has(s.slot));
      if (left.length === 0) { await removeDevice(t, d, set); continue; }
      const fd = load(fds, program(slotRules(left, whereOf(d.link.name))), set.mapFd);
      await replaceXdp(t, d.link, d.attached!.mode, fd, set.progFd);
      undo.push(() => replaceXdp(t, d.link, d.attached!.mode, set.progFd, fd));
      clearSlots(fds.sys, set.mapFd, [...slots]);
    }
  } catch (e) {
    for (const u of undo.reverse()) { try { await u(); } catch { /* best effort */ } }
    throw e;
  } finally { fds.closeAll(); }
}

export const xdpBackend: Backend<'xdp'> = {
  ...xdpFields,
  summary: 'an XDP program on a device + a tc copy of its metadata into the mark (the earliest marking, ingress only)',
  idFormat: 'xdp:DEV:SLOT',
  where: (r) => `${r.dev} (xdp)`,
  probe: probeXdp,

  /** Dry run: a device with no qdisc and no XDP program yet; generic mode (add uses native where the driver is known to support metadata); program fds are the placeholder 0. */
  encodeAdd(rules: readonly MarkRule[], ctx: EncodeContext, opts: AddOptions = {}): Uint8Array[] {
    refuseBefore(opts);
    if (!ctx.ifindex) throw new PktmarkError('INVALID_OPTION', 'encoding an xdp rule needs the device ifindex', { field: 'dev', hint: 'pass ifindex (CLI: --ifindex N)' });
    for (const r of rules) checkXdpRule(r);
    const out: Uint8Array[] = [];
    for (const dev of byDevice(rules).keys()) {
      const ifindex = ctx.ifindex(dev);
      const w = new AttributeWriter(64);
      encodeNewIngressQdisc(w, ctx.nextSeq(), ifindex, 'clsact');
      out.push(w.finish());
      out.push(encodeBpfFilter(ctx.nextSeq(), bpfFilter({ ifindex, direction: 'ingress', prio: 0, handle: 0 }, 0, 'xdpcp', true), false));
      out.push(encodeXdp(ctx.nextSeq(), newAttachRequest(ifindex, 0, 'generic')));
    }
    return out;
  },
  encodePrograms: (rules) => xdpPrograms(rules),
  add: (rules, ctx, opts: AddOptions = {}) => { refuseBefore(opts); return addAll(rules, ctx, opts.tags); },

  async list(ctx: BackendContext): Promise<RuleRecord[]> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const found = (await devices(t)).filter((d) => d.attached);
    if (found.length === 0) return [];
    const fds = new Fds(await ctx.bpf());
    try {
      return found.flatMap((d) => (ownSet(fds, d)?.slots ?? []).map((s) =>
        slotRecord(xdpId(d.link.name, s.slot), 'xdp', xdpFields, { dev: d.link.name }, whereOf(d.link.name, d.attached!.mode), s)));
    } finally { fds.closeAll(); }
  },

  delete: deleteIds,

  async clear(ctx: BackendContext): Promise<void> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const found = await devices(t);
    if (found.length === 0) return;
    const fds = new Fds(await ctx.bpf());
    try {
      for (const d of found) await removeDevice(t, d, ownSet(fds, d));
    } finally { fds.closeAll(); }
  },

  explain(rule: MarkRule): string {
    checkXdpRule(rule);
    const p = program([{ slot: 0, spec: ruleToSpec(rule) }]);
    const xdp = disassemble(programBytes(p));
    const copy = disassemble(programBytes(tcMetaCopyProgram()));
    return [
      ruleText('xdp', whereOf(rule.dev!), ruleToSpec(rule)),
      `# XDP program ${p.name} (${xdp.length} instructions, this rule alone in slot 0; map fd placeholder 0); the device's program holds all its rules`,
      ...xdp,
      `# tc ingress copy program ${tcMetaCopyProgram().name} (${copy.length} instructions): metadata → skb->mark`,
      ...copy,
    ].join('\n');
  },
};

function refuseBefore(opts: AddOptions): void {
  if (opts.before !== undefined || opts.first) {
    throw new PktmarkError('UNSUPPORTED', 'an xdp program runs its rules in slot order; there is no inserting before another rule', { field: opts.first ? 'first' : 'before' });
  }
}

/** The programs one device would run with these rules (dry-run's instruction bytes). */
export function xdpPrograms(rules: readonly MarkRule[]): { name: string; where: string; insns: Uint8Array }[] {
  return [...byDevice(rules)].flatMap(([dev, items]) => {
    const p = program(items.map((x, k) => ({ slot: k, spec: ruleToSpec(x.r) })));
    return [{ name: p.name, where: whereOf(dev), insns: programBytes(p) }, { name: tcMetaCopyProgram().name, where: `${whereOf(dev)} ingress (cls_bpf)`, insns: programBytes(tcMetaCopyProgram()) }];
  });
}
