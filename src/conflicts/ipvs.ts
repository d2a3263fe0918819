/** IPVS virtual services keyed by fwmark (`ipvsadm -A -f MARK`): generic netlink "IPVS". */
import { decodeIpvsService, encodeIpvsServiceDump, IPVS_GENL_NAME } from '../../codecs/genl/ipvs.js';
import { dump } from '../transport/execute.js';
import { NETLINK_GENERIC } from '../transport/transport.js';
import { genlFamily } from './genl-family.js';
import { guarded } from './guard.js';
import { hex } from './nft-rule.js';
import type { Scanner } from './types.js';

export const ipvsScanner: Scanner = {
  reads: 'IPVS fwmark services (generic netlink IPVS, where the module is loaded)',
  async scan(ctx) {
    const t = await ctx.transport(NETLINK_GENERIC);
    const id = await guarded(ctx, 'ipvs', 'generic netlink family IPVS', () => genlFamily(ctx, t, 'ipvs', IPVS_GENL_NAME));
    if (id === undefined) return;
    const msgs = await guarded(ctx, 'ipvs', 'IPVS services', () => dump(t, 'list IPVS services', (w, seq) => encodeIpvsServiceDump(w, seq, id)));
    for (const m of msgs ?? []) {
      if (m.header.type !== id) continue;
      const s = decodeIpvsService(m);
      if (!s?.fwmark) continue;
      ctx.user({
        source: 'ipvs', owner: `ipvs service fwmark ${s.fwmark}`, bits: 0xffffffff, values: [s.fwmark], whole: true, action: 'matches', on: 'packet',
        detail: `IPVS ${s.af === 10 ? 'IPv6 ' : ''}service fwmark ${hex(s.fwmark)}${s.scheduler ? ` scheduler ${s.scheduler}` : ''}`,
      });
    }
  },
};
