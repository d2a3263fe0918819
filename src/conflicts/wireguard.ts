/** WireGuard devices' fwmark (`wg set wg0 fwmark …`): RTM_GETLINK for kind wireguard, then genl WG_CMD_GET_DEVICE per device. */
import { decodeWgDevice, encodeWgGetDevice, WG_GENL_NAME } from '../../codecs/genl/wireguard.js';
import { allLinks } from '../backends/clsact.js';
import { dump } from '../transport/execute.js';
import { NETLINK_GENERIC, NETLINK_ROUTE } from '../transport/transport.js';
import { genlFamily } from './genl-family.js';
import { guarded } from './guard.js';
import { hex } from './nft-rule.js';
import type { Scanner } from './types.js';

export const wireguardScanner: Scanner = {
  reads: 'WireGuard devices\' fwmark (generic netlink wireguard)',
  async scan(ctx) {
    const links = await guarded(ctx, 'wireguard', 'devices', async () => allLinks(await ctx.transport(NETLINK_ROUTE)));
    const wg = [...(links?.values() ?? [])].filter((l) => l.kind === 'wireguard');
    if (wg.length === 0) return;
    const t = await ctx.transport(NETLINK_GENERIC);
    const id = await guarded(ctx, 'wireguard', 'generic netlink family wireguard', () => genlFamily(ctx, t, 'wireguard', WG_GENL_NAME));
    if (id === undefined) return;
    for (const l of wg) {
      const msgs = await guarded(ctx, 'wireguard', `wireguard device ${l.name}`, () => dump(t, `get wireguard device ${l.name}`, (w, seq) => encodeWgGetDevice(w, seq, id, l.index)));
      const fwmark = (msgs ?? []).filter((m) => m.header.type === id).map(decodeWgDevice).find((d) => d.fwmark !== undefined)?.fwmark;
      if (!fwmark) continue;
      ctx.user({
        source: 'wireguard', owner: `wireguard ${l.name}`, bits: 0xffffffff, values: [fwmark], whole: true, action: 'sets', on: 'packet',
        detail: `${l.name}: fwmark ${hex(fwmark)} on its own encrypted packets`,
      });
    }
  },
};
