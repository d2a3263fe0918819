/** `ip rule … fwmark V/M`: RTM_GETRULE dumps of both families (codecs/rtnetlink/rule.ts). */
import { decodeFibRule, encodeGetRules, RTM_NEWRULE } from '../../codecs/rtnetlink/rule.js';
import { dump } from '../transport/execute.js';
import { NETLINK_ROUTE } from '../transport/transport.js';
import { guarded } from './guard.js';
import { hex } from './nft-rule.js';
import type { Scanner } from './types.js';

const FAMILIES = [[2, 'ip'], [10, 'ip6']] as const;

export const ipRuleScanner: Scanner = {
  reads: 'policy-routing rules (ip rule, ip -6 rule) with fwmark',
  async scan(ctx) {
    const t = await ctx.transport(NETLINK_ROUTE);
    for (const [family, word] of FAMILIES) {
      const msgs = await guarded(ctx, 'ip-rule', `${word} rules`, () => dump(t, `list ${word} rules`, (w, seq) => encodeGetRules(w, seq, family)));
      for (const m of msgs ?? []) {
        if (m.header.type !== RTM_NEWRULE) continue;
        const r = decodeFibRule(m);
        if (r.fwmark === undefined && r.fwmask === undefined) continue;
        const mark = r.fwmark ?? 0, mask = r.fwmask ?? 0xffffffff;
        ctx.user({
          source: 'ip-rule', owner: `${word} rule ${r.priority}`, bits: mask, values: [mark], action: 'matches', on: 'packet',
          ...(mask === 0xffffffff ? { whole: true as const } : {}),
          detail: `${word === 'ip' ? 'ip' : 'ip -6'} rule ${r.priority}: ${r.invert ? 'not ' : ''}fwmark ${hex(mark)}/${hex(mask)} lookup ${r.table}`,
        });
      }
    }
  },
};
