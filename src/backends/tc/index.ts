/**
 * The tc backend: cls_u32 filters with act_skbedit (and act_police for rates) on a device's
 * clsact (or existing ingress) qdisc, over rtnetlink. A user operation is an ordered sequence
 * of requests, each acknowledged; if one fails, the ones before it are undone (filters deleted,
 * a qdisc pktmark created removed) before the error is reported. add.ts adds, owned.ts finds and
 * removes pktmark's filters, id.ts names them.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { encodeNewFilter } from '../../../codecs/tc/filter.js';
import { encodeNewIngressQdisc } from '../../../codecs/tc/qdisc.js';
import { PktmarkError } from '../../errors.js';
import type { MarkRule } from '../../rule.js';
import { NETLINK_ROUTE } from '../../transport/transport.js';
import type { AddOptions, Backend, BackendContext, EncodeContext, RuleRecord } from '../backend.js';
import { directionsOf, filtersOf, ifindexOf, ingressQdiscs, linkNames } from '../clsact.js';
import { addAll, prepareDevice } from './add.js';
import { tcFields } from './fields.js';
import { parseTcId } from './id.js';
import { belongs, deleteNode, isNode, ownedFilters, ownerOf, record, removeOwned, type Owned } from './owned.js';
import { probeTc } from './probe.js';
import { explainRule, ownerCookie, ruleToFilter } from './rule.js';

export { ACTION_HINT, addFilters, type TcAddFailure, type TcAddOutcome } from './add.js';
export { parseTcId, tcId, type TcId } from './id.js';

/** tc orders filters by priority, not by position: `prio` is the way to go first. */
function refuseBefore(opts: AddOptions): void {
  if (opts.before !== undefined || opts.first) {
    throw new PktmarkError('UNSUPPORTED', 'tc filters are ordered by prio, not inserted before another filter', { field: opts.first ? 'first' : 'before', hint: 'give the rule a lower prio (tc runs lower prios first)' });
  }
}

export const tcBackend: Backend<'tc'> = {
  ...tcFields,
  summary: 'tc filters (cls_u32 + act_skbedit) on a device',
  idFormat: 'tc:DEV:ingress|egress:PRIO:HANDLE',
  where: (r) => `${r.dev} ${r.direction}${r.prio !== undefined ? ` prio ${r.prio}` : ''}`,
  probe: probeTc,

  encodeAdd(rules: readonly MarkRule[], ctx: EncodeContext, opts: AddOptions = {}): Uint8Array[] {
    refuseBefore(opts);
    // Dry run: assumes no qdisc on the device yet (so clsact is created, as add would) and the
    // qdisc flag set in the cookie. The real add also looks up the device, and sends a priority's
    // later filters with the handles the kernel gives here (800::801, …: send.ts) and no echo.
    const out: Uint8Array[] = [];
    const made = new Set<string>();
    for (const r of rules) {
      const dev = r.dev!;
      const ifindex = ctx.ifindex ? ctx.ifindex(dev) : 0;
      if (!ctx.ifindex) throw new PktmarkError('INVALID_OPTION', 'encoding a tc rule needs the device ifindex', { field: 'dev', hint: 'pass ifindex (CLI: --ifindex N)' });
      if (!made.has(dev)) {
        const w = new AttributeWriter(64);
        encodeNewIngressQdisc(w, ctx.nextSeq(), ifindex, 'clsact');
        out.push(w.finish());
        made.add(dev);
      }
      const w = new AttributeWriter(256);
      encodeNewFilter(w, ctx.nextSeq(), ruleToFilter(r, { ifindex, qdisc: 'clsact', cookie: ownerCookie(true, r.direction) }), { echo: true });
      out.push(w.finish());
    }
    return out;
  },

  add: (rules, ctx, opts: AddOptions = {}) => { refuseBefore(opts); return addAll(rules, ctx, opts.tags); },

  async list(ctx: BackendContext): Promise<RuleRecord[]> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const { owned } = await ownedFilters(t);
    return owned.map((o) => record(o.dev, o.direction, o.filter));
  },

  async delete(ids: readonly string[], ctx: BackendContext): Promise<void> {
    const parsed = ids.map(parseTcId);
    const t = await ctx.transport(NETLINK_ROUTE);
    const names = await linkNames(t);
    const qdiscs = await ingressQdiscs(t);
    const victims: Owned[] = [];
    for (const [i, id] of parsed.entries()) {
      const ifindex = [...names].find(([, n]) => n === id.dev)?.[0];
      const q = ifindex === undefined ? undefined : qdiscs.get(ifindex);
      const found = ifindex === undefined || !q || !directionsOf(q).includes(id.direction) ? undefined
        : (await filtersOf(t, ifindex, id.direction)).find((f) => f.prio === id.prio && f.handle === id.handle && isNode(f) && belongs(f, id.direction));
      if (!found || ifindex === undefined) throw new PktmarkError('NOT_FOUND', `no tc filter ${ids[i]}`, { field: 'id' });
      const o = ownerOf(found);
      if (!o) throw new PktmarkError('NOT_OWNED', `tc filter ${ids[i]} was not made by pktmark; it is left alone`, { field: 'id' });
      victims.push({ dev: id.dev, ifindex, direction: id.direction, filter: found, qdiscOwned: o.qdiscOwned });
    }
    await removeOwned(t, victims, qdiscs);
  },

  async clear(ctx: BackendContext): Promise<void> {
    const t = await ctx.transport(NETLINK_ROUTE);
    const { owned, qdiscs } = await ownedFilters(t);
    if (owned.length) await removeOwned(t, owned, qdiscs);
  },

  explain(rule: MarkRule): string {
    return explainRule(rule);
  },
};

/** The kernel steps, exported for the live tests (qdisc create/reuse/remove without a working action). */
export const tcKernel = { ifindexOf, linkNames, ingressQdiscs, filtersOf, prepareDevice, deleteNode };
