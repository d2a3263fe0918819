/**
 * tc: the filters on every device's ingress and egress hooks (RTM_GETLINK, RTM_GETQDISC, then
 * RTM_GETTFILTER per hook, and on the root qdisc): skbedit marks, connmark/ctinfo restores, u32 `mark` and cls_fw
 * matches, and cls_bpf programs (which may write any bit; pktmark's own are named `pktmark/…`).
 */
import type { TcAction } from '../../codecs/tc/actions/index.js';
import { decodeConnmarkAction } from '../../codecs/tc/actions/connmark.js';
import { decodeCtinfoAction } from '../../codecs/tc/actions/ctinfo.js';
import { TCA_U32_MARK } from '../../codecs/tc/classifiers/u32.js';
import { decodeFilter, encodeGetFilters, type DecodedFilter } from '../../codecs/tc/filter.js';
import { RTM_NEWTFILTER } from '../../codecs/tc/constants.js';
import { dump } from '../transport/execute.js';
import { attr, AttributeReader } from '../../codecs/netlink/attributes.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { allLinks, directionsOf, filtersOf, ingressQdiscs, parseBpfFilterName } from '../backends/clsact.js';
import { parseOwnerCookie } from '../backends/tc/rule.js';
import { NETLINK_ROUTE } from '../transport/transport.js';
import { guarded } from './guard.js';
import { hex } from './nft-rule.js';
import type { MarkUser, Scanner } from './types.js';

const SOURCE = 'tc' as const;
const ALL = 0xffffffff;
/** cls_fw (include/uapi/linux/pkt_cls.h): TCA_FW_MASK; the filter's handle is the mark it matches */
const TCA_FW_MASK = 5;

type Use = Omit<MarkUser, 'source' | 'owner' | 'detail'> & { readonly text: string };

function actionUses(actions: readonly TcAction[] | undefined): { uses: Use[]; pktmark: boolean } {
  const uses: Use[] = [];
  let pktmark = false;
  for (const a of actions ?? []) {
    if (parseOwnerCookie(a.cookie)) pktmark = true;
    const o = a.options;
    if (o.kind === 'skbedit' && o.mark !== undefined) {
      const mask = o.mask ?? ALL;
      uses.push({ action: 'sets', on: 'packet', bits: mask, values: [o.mark], ...(mask === ALL ? { whole: true as const } : {}), text: `skbedit mark ${hex(o.mark)}${o.mask === undefined ? '' : `/${hex(mask)}`}` });
    } else if (o.kind === 'raw' && o.name === 'connmark') {
      const c = decodeConnmarkAction(o.data);
      uses.push({ action: 'restores', on: 'packet', bits: ALL, text: `connmark${c.zone ? ` zone ${c.zone}` : ''}` });
    } else if (o.kind === 'raw' && o.name === 'ctinfo') {
      const c = decodeCtinfoAction(o.data);
      if (c.cpmarkMask !== undefined) uses.push({ action: 'restores', on: 'packet', bits: c.cpmarkMask, text: `ctinfo cpmark ${hex(c.cpmarkMask)}` });
      if (c.dscpMask !== undefined) uses.push({ action: 'matches', on: 'conntrack', bits: c.dscpMask, text: `ctinfo dscp ${hex(c.dscpMask)}` });
    }
  }
  return { uses, pktmark };
}

function filterUses(f: DecodedFilter): { uses: Use[]; pktmark: boolean; what: string } {
  const o = f.options;
  if (o?.kind === 'u32') {
    const r = actionUses(o.actions);
    for (const x of o.extra) {
      if (x.type !== TCA_U32_MARK || x.data.length < 8) continue;
      const v = new DataView(x.data.buffer, x.data.byteOffset, x.data.length);
      const val = v.getUint32(0, HOST_LITTLE_ENDIAN), mask = v.getUint32(4, HOST_LITTLE_ENDIAN);
      r.uses.unshift({ action: 'matches', on: 'packet', bits: mask, values: [val], ...(mask === ALL ? { whole: true as const } : {}), text: `u32 match mark ${hex(val)} ${hex(mask)}` });
    }
    return { ...r, what: 'u32' };
  }
  if (o?.kind === 'bpf') {
    const r = actionUses(o.actions);
    const own = parseBpfFilterName(o.name) !== undefined;
    // a program can write any bit of skb->mark; what it writes is in its instructions, not its attributes
    r.uses.unshift({ action: 'sets', on: 'packet', bits: ALL, whole: true, text: `bpf program ${o.name ?? '(unnamed)'}${o.id === undefined ? '' : ` id ${o.id}`} (may write any bit)` });
    return { uses: r.uses, pktmark: r.pktmark || own, what: 'bpf' };
  }
  if (o?.kind === 'raw' && o.name === 'fw') {
    let mask = ALL;
    try { for (const a of new AttributeReader(o.data)) if (a.type === TCA_FW_MASK) mask = attr.u32(a); } catch { /* keep the default */ }
    return { uses: [{ action: 'matches', on: 'packet', bits: mask, values: [(f.handle & mask) >>> 0], ...(mask === ALL ? { whole: true as const } : {}), text: `fw handle ${hex(f.handle)}/${hex(mask)}` }], pktmark: false, what: 'fw' };
  }
  return { uses: [], pktmark: false, what: o?.kind === 'raw' ? o.name : (f.kind ?? '?') };
}

export const tcScanner: Scanner = {
  reads: 'tc filters on every device (skbedit, connmark, ctinfo, u32 mark, fw, cls_bpf programs)',
  async scan(ctx) {
    const t = await ctx.transport(NETLINK_ROUTE);
    const links = await guarded(ctx, SOURCE, 'devices', () => allLinks(t));
    const qdiscs = await guarded(ctx, SOURCE, 'qdiscs', () => ingressQdiscs(t));
    if (!links || !qdiscs) return;
    const report = (dev: string, where: string, filters: readonly DecodedFilter[] | undefined): void => {
      for (const f of filters ?? []) {
        const { uses, pktmark, what } = filterUses(f);
        for (const u of uses) {
          const { text, ...rest } = u;
          ctx.user({ ...rest, source: SOURCE, owner: pktmark ? 'pktmark' : `dev ${dev} ${where}`, detail: `${dev} ${where} prio ${f.prio} ${what} handle ${hex(f.handle)}: ${text}` });
        }
      }
    };
    for (const [ifindex, link] of links) {
      const dev = link.name || `if${ifindex}`;
      const kind = qdiscs.get(ifindex);
      for (const direction of kind ? directionsOf(kind) : []) {
        report(dev, direction, await guarded(ctx, SOURCE, `${dev} ${direction} filters`, () => filtersOf(t, ifindex, direction)));
      }
      // parent 0: the filters of the device's root qdisc (a classful one's; none for noqueue/pfifo_fast)
      report(dev, 'root', await guarded(ctx, SOURCE, `${dev} root filters`, async () =>
        (await dump(t, `list ${dev} root filters`, (w, seq) => encodeGetFilters(w, seq, { ifindex, parent: 0 })))
          .filter((m) => m.header.type === RTM_NEWTFILTER).map(decodeFilter)));
    }
  },
};
