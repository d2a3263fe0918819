/**
 * Adding tc mark rules: every rule's u32 filter pipelined over rtnetlink (send.ts: one sendmsg,
 * plus one for the other filters of each priority that the add creates), after the devices'
 * qdiscs are looked up (or clsact made). Each filter's handle (the rule's id) is the one pktmark
 * named, or for a priority's first filter the kernel's echo; the first refusal undoes the whole
 * add (or, with force, as `tc -force -batch`, is reported while the rest stay).
 */
import { kernelError } from '../../../codecs/netlink/message.js';
import { formatU32Handle } from '../../../codecs/tc/classifiers/u32.js';
import type { TcFilter } from '../../../codecs/tc/filter.js';
import { EEXIST, EINVAL } from '../../../codecs/errno.js';
import { PktmarkError } from '../../errors.js';
import type { MarkRule } from '../../rule.js';
import { NETLINK_ROUTE, type Transport } from '../../transport/transport.js';
import type { AddOptions, BackendContext, RuleRecord } from '../backend.js';
import { prepareClsact, type DevState, type Direction, type Undo } from '../clsact.js';
import { deleteNode, dumpPlaces, ownedKeys, record, removeNewOwned, sentRecord } from './owned.js';
import { rootTables, sendFilters, type FilterOutcome } from './send.js';
import { ownerCookie, ruleToFilter, checkTcRule } from './rule.js';

/** the hint of ACTION_UNAVAILABLE: nft always; bpf too, since cls_bpf marks without any tc action (probed by doctor) */
export const ACTION_HINT = "this kernel lacks act_skbedit/act_police (modules not built or not loadable): use via: 'nft' (nftables meta mark set), or via: 'bpf' (a cls_bpf program that sets the mark itself, no tc action needed; `pktmark doctor` says whether cls_bpf works here)";

/** Where a request named its own handle: refused as taken or as another table's, another writer got there first. */
interface Chosen { readonly dev: string; readonly direction: Direction; readonly prio: number; readonly handle: number }

function addError(e: unknown, r: MarkRule, chosen?: Chosen): unknown {
  if (!(e instanceof PktmarkError)) return e;
  if (chosen && (e.errno === EEXIST || (e.errno === EINVAL && /hash table address mismatch/i.test(e.extack ?? '')))) {
    const where = `${chosen.dev} ${chosen.direction} prio ${chosen.prio}`;
    return new PktmarkError('BUSY', `u32 handle ${formatU32Handle(chosen.handle)} on ${where} was taken, or the priority replaced, by another writer during this add: ${e.message}`, {
      field: 'prio', errno: e.errno, ...(e.extack ? { extack: e.extack } : {}), ...(e.messageIndex !== undefined ? { messageIndex: e.messageIndex } : {}),
      hint: 'nothing of the add is left if it was not -force; run it again', cause: e,
    });
  }
  if (e.extack && /action module/i.test(e.extack)) {
    const which = r.rate ? 'skbedit or police' : 'skbedit';
    return new PktmarkError('ACTION_UNAVAILABLE', `tc action ${which} is not available in this kernel: ${e.extack}`, {
      field: r.rate ? 'rate' : 'mark', ...(e.errno !== undefined ? { errno: e.errno } : {}), extack: e.extack,
      ...(e.extackOffset !== undefined ? { extackOffset: e.extackOffset } : {}),
      ...(e.messageIndex !== undefined ? { messageIndex: e.messageIndex } : {}), hint: ACTION_HINT, cause: e,
    });
  }
  if (e.errno === EEXIST) {
    return new PktmarkError('BUSY', `a filter with ${r.prio === undefined ? 'that prio' : `prio ${r.prio}`} on ${r.dev} already exists: ${e.message}`, {
      field: 'prio', errno: EEXIST, ...(e.extack ? { extack: e.extack } : {}), ...(e.messageIndex !== undefined ? { messageIndex: e.messageIndex } : {}),
    });
  }
  return e;
}

export const prepareDevice = (t: Transport, dev: string, direction: Direction, undo: Undo): Promise<DevState> => prepareClsact(t, dev, direction, undo);

/** One rule's failure in a multi-rule add: its index in the input, and the typed error. */
export interface TcAddFailure { readonly index: number; readonly error: unknown }
/** What `addFilters` did: a record per rule that went in (undefined for the others), and each failure. */
export interface TcAddOutcome { readonly records: readonly (RuleRecord | undefined)[]; readonly failures: readonly TcAddFailure[] }

export async function addAll(rules: readonly MarkRule[], ctx: BackendContext, tags?: AddOptions['tags']): Promise<RuleRecord[]> {
  const o = await addFilters(rules, ctx, { force: false, ...(tags ? { tags } : {}) });
  if (o.failures.length) throw o.failures[0].error;
  return o.records as RuleRecord[];
}

/**
 * Add every rule's filter in one pipelined exchange. Atomic (force false): the first refusal undoes
 * every filter and qdisc this call made and is the one failure reported. With force (`tc -force
 * -batch`): each rule that the kernel (or the device lookup) refuses is reported by its index and
 * the others stay; only a clsact qdisc made for a device none of whose filters went in is removed
 * again, so nothing is left that no pktmark filter owns. A failed exchange (timeout, lost replies)
 * undoes everything in both modes and throws.
 */
export async function addFilters(rules: readonly MarkRule[], ctx: BackendContext, opts: { readonly force: boolean; readonly tags?: AddOptions['tags'] }): Promise<TcAddOutcome> {
  const failures: TcAddFailure[] = [];
  const records: (RuleRecord | undefined)[] = rules.map(() => undefined);
  const fail = (index: number, error: unknown): TcAddOutcome => { failures.push({ index, error }); return { records: rules.map(() => undefined), failures }; };
  for (const [i, r] of rules.entries()) {
    try { checkTcRule(r); } catch (e) { if (!opts.force) return fail(i, e); failures.push({ index: i, error: e }); }
  }
  const t = await ctx.transport(NETLINK_ROUTE);
  // per device, so that with force a qdisc made for a device whose filters all failed can be removed alone
  const undo: (() => Promise<void>)[] = [];
  const devUndo = new Map<string, (() => Promise<void>)[]>();
  const devices = new Map<string, DevState>();
  const rollback = async (): Promise<void> => {
    for (const u of [...[...devUndo.values()].flat(), ...undo].reverse()) {
      try { await u(); } catch { /* best effort: report the original error */ }
    }
  };
  const skipped = new Set(failures.map((f) => f.index));
  try {
    // Devices first (look up, reuse or create the qdisc), in rule order.
    const planned: { index: number; r: MarkRule; dev: string; direction: Direction; ifindex: number; filter: TcFilter }[] = [];
    for (const [index, r] of rules.entries()) {
      if (skipped.has(index)) continue;
      const dev = r.dev!, direction = r.direction ?? 'ingress';
      try {
        const du = devUndo.get(dev) ?? [];
        devUndo.set(dev, du);
        let st = devices.get(dev);
        if (!st) { st = await prepareDevice(t, dev, direction, du); devices.set(dev, st); }
        else if (st.qdisc === 'ingress' && direction === 'egress') await prepareDevice(t, dev, direction, du);
        const filter = ruleToFilter(r, { ifindex: st.ifindex, qdisc: st.qdisc, cookie: ownerCookie(st.qdiscOwned, direction, opts.tags?.[index]) });
        planned.push({ index, r, dev, direction, ifindex: st.ifindex, filter });
      } catch (e) {
        if (!opts.force) { await rollback(); return fail(index, e); }
        failures.push({ index, error: e });
      }
    }
    if (planned.length > 0) {
      // If an exchange itself fails (timeout, lost replies), the kernel may hold filters we never
      // heard about: remember pktmark's filters on these devices now, and remove any new ones then.
      // (a device whose clsact this add just created has none yet: no dump needed) The same
      // dumps say which node ids the priorities already in use have taken.
      const dumps = await dumpPlaces(t, planned.filter((p) => !devices.get(p.dev)?.created));
      const before = ownedKeys(dumps);
      let outcomes: FilterOutcome[];
      try {
        outcomes = await sendFilters(t, planned, await rootTables(t, planned, dumps), { atomic: !opts.force });
      } catch (e) {
        undo.push(async () => { await removeNewOwned(t, planned, before); });
        throw e;
      }
      // one undo for every filter that went in, last first (not a closure per filter of a bulk add)
      undo.push(async () => {
        for (let i = planned.length - 1; i >= 0; i--) {
          const p = planned[i], h = outcomes[i].handle;
          if (h === undefined) continue;
          try { await deleteNode(t, p.ifindex, p.direction, p.filter.parent, outcomes[i].echo?.prio ?? p.filter.prio, p.filter.protocol, h); } catch { /* best effort, as each undo */ }
        }
      });
      const refusal = (i: number): unknown => {
        const p = planned[i], o = outcomes[i];
        return addError(kernelError(`add tc filter on ${p.dev}`, o.refused!, p.index), p.r, o.chosen === undefined ? undefined : { dev: p.dev, direction: p.direction, prio: p.filter.prio, handle: o.chosen });
      };
      const failed = outcomes.findIndex((o) => o.refused);
      if (failed >= 0 && !opts.force) {
        await rollback();
        return fail(planned[failed].index, refusal(failed));
      }
      for (const [i, p] of planned.entries()) {
        const o = outcomes[i];
        if (o.refused) failures.push({ index: p.index, error: refusal(i) });
        else if (o.echo) records[p.index] = record(p.dev, p.direction, o.echo, p.r);
        // the filter as sent is the filter as held: u32 copies the selector, skbedit and police keep their values
        else if (o.handle !== undefined) records[p.index] = sentRecord(p.dev, p.direction, p.filter.prio, o.handle, p.r, opts.tags?.[p.index]);
        else {
          const error = new PktmarkError('KERNEL', `the kernel did not echo the new filter on ${p.dev}`, { field: 'dev', messageIndex: p.index });
          if (!opts.force) throw error;
          failures.push({ index: p.index, error });
        }
      }
    }
    // force: a qdisc this call made stays only where one of its filters went in
    for (const [dev, du] of devUndo) {
      if (records.some((rec, i) => rec && rules[i].dev === dev)) continue;
      for (const u of du.reverse()) { try { await u(); } catch { /* best effort */ } }
    }
    failures.sort((a, b) => a.index - b.index);
    return { records, failures };
  } catch (e) {
    await rollback();
    throw e;
  }
}
