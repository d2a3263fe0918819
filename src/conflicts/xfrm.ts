/** IPsec: xfrm states and policies with XFRMA_MARK (matched) or XFRMA_SET_MARK (set), NETLINK_XFRM dumps. */
import { decodeXfrm, encodeXfrmDump, XFRM_MSG_GETPOLICY, XFRM_MSG_GETSA } from '../../codecs/xfrm/xfrm.js';
import { dump } from '../transport/execute.js';
import { NETLINK_XFRM } from '../transport/transport.js';
import { guarded } from './guard.js';
import { hex } from './nft-rule.js';
import type { Scanner } from './types.js';

const DIRS = ['in', 'out', 'fwd'];
const ALL = 0xffffffff;

export const xfrmScanner: Scanner = {
  reads: 'IPsec states and policies (ip xfrm) with mark or output-mark',
  async scan(ctx) {
    const t = await ctx.transport(NETLINK_XFRM);
    for (const [msg, word] of [[XFRM_MSG_GETSA, 'states'], [XFRM_MSG_GETPOLICY, 'policies']] as const) {
      const msgs = await guarded(ctx, 'xfrm', `xfrm ${word}`, () => dump(t, `list xfrm ${word}`, (w, seq) => encodeXfrmDump(w, seq, msg)));
      for (const m of msgs ?? []) {
        const x = decodeXfrm(m);
        if (!x) continue;
        const owner = x.what === 'state' ? `xfrm state spi ${hex(x.spi ?? 0)}` : `xfrm policy ${DIRS[x.dir ?? 0] ?? x.dir} index ${x.index}`;
        const where = x.what === 'state' ? `state spi ${hex(x.spi ?? 0)} proto ${x.proto}` : `policy dir ${DIRS[x.dir ?? 0] ?? x.dir} priority ${x.priority} index ${x.index}`;
        if (x.mark && x.mark.mask !== 0) {
          ctx.user({ source: 'xfrm', owner, bits: x.mark.mask, values: [x.mark.value], action: 'matches', on: 'packet', ...(x.mark.mask === ALL ? { whole: true as const } : {}), detail: `${where}: mark ${hex(x.mark.value)}/${hex(x.mark.mask)}` });
        }
        if (x.setMark && x.setMark.mask !== 0) {
          ctx.user({ source: 'xfrm', owner, bits: x.setMark.mask, values: [x.setMark.value], action: 'sets', on: 'packet', ...(x.setMark.mask === ALL ? { whole: true as const } : {}), detail: `${where}: output-mark ${hex(x.setMark.value)}/${hex(x.setMark.mask)}` });
        }
      }
    }
  },
};
