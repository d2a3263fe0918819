/**
 * Sockets with SO_MARK: sock_diag dumps of TCP and UDP, IPv4 and IPv6 (codecs/sockdiag). The
 * kernel reports a socket's mark only to a CAP_NET_ADMIN requester; without it no mark is seen,
 * which the scan cannot tell from "none" — so it says so in `unreadable` when nothing came back
 * with a mark attribute at all while sockets exist.
 */
import { decodeInetDiag, encodeInetDiagDump, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY, type InetDiagSocket } from '../../codecs/sockdiag/inet-diag.js';
import { formatAddress } from '../../codecs/address.js';
import { dump } from '../transport/execute.js';
import { NETLINK_SOCK_DIAG } from '../transport/transport.js';
import { guarded } from './guard.js';
import { hex } from './nft-rule.js';
import { socketOwners } from './proc.js';
import type { Scanner } from './types.js';

const SOURCE = 'socket' as const;
/** include/net/tcp_states.h */
const TCP_TIME_WAIT = 6;
const TCP_NEW_SYN_RECV = 12;
const KINDS = [[2, IPPROTO_TCP, 'tcp'], [2, IPPROTO_UDP, 'udp'], [10, IPPROTO_TCP, 'tcp6'], [10, IPPROTO_UDP, 'udp6']] as const;

function endpoint(s: InetDiagSocket): string {
  const a = s.family === 2 ? s.src.subarray(0, 4) : s.src;
  return `${formatAddress(a)}:${s.sport}`;
}

export const socketScanner: Scanner = {
  reads: 'TCP and UDP sockets with SO_MARK (sock_diag; needs CAP_NET_ADMIN) and their processes (/proc)',
  async scan(ctx) {
    const t = await ctx.transport(NETLINK_SOCK_DIAG);
    const marked: { s: InetDiagSocket; word: string }[] = [];
    let seen = 0, withMark = 0;
    for (const [family, proto, word] of KINDS) {
      const msgs = await guarded(ctx, SOURCE, `${word} sockets`, () => dump(t, `list ${word} sockets`, (w, seq) => encodeInetDiagDump(w, seq, family, proto)));
      for (const m of msgs ?? []) {
        if (m.header.type !== SOCK_DIAG_BY_FAMILY) continue;
        const s = decodeInetDiag(m);
        // TIME_WAIT and NEW_SYN_RECV minisockets are reported without a mark even to CAP_NET_ADMIN
        if (s.state !== TCP_TIME_WAIT && s.state !== TCP_NEW_SYN_RECV) seen++;
        if (s.mark !== undefined) withMark++;
        if (s.mark) marked.push({ s, word });
      }
    }
    if (seen > 0 && withMark === 0) {
      ctx.unreadable({ source: SOURCE, what: 'socket marks', reason: 'EPERM', message: 'the kernel reports socket marks only to CAP_NET_ADMIN' });
    }
    const owners = socketOwners(ctx.proc, new Set(marked.map((x) => x.s.inode)), ctx.deadline);
    for (const { s, word } of marked) {
      ctx.user({
        source: SOURCE, owner: owners.get(s.inode) ?? `socket inode ${s.inode}`, bits: 0xffffffff, values: [s.mark!], whole: true,
        action: 'sets', on: 'packet', detail: `${word} ${endpoint(s)} inode ${s.inode} uid ${s.uid}: SO_MARK ${hex(s.mark!)}`,
      });
    }
  },
};
