/**
 * A fake kernel for scan tests, answering the scanners' dumps with the replies the real kernel
 * gave the real tools (fixtures/conflicts/*.json, made by fixtures/capture-conflicts.sh): each
 * dump request gets the captured messages of its kind (and, for nft rules and set elements, of
 * its table or set), renumbered to the request's sequence number, then NLMSG_DONE.
 */
import { readFileSync } from 'node:fs';
import { ENOENT } from '../../codecs/errno.js';
import { nfgenmsg } from '../../codecs/netlink/batch.js';
import { parseMessages, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { decodeRule, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType } from '../../codecs/nftables/messages.js';
import { decodeSetElems, NFT_MSG_GETSETELEM, NFT_MSG_NEWSETELEM } from '../../codecs/nftables/set.js';
import { AttributeReader, attr } from '../../codecs/netlink/attributes.js';
import { RTM_GETRULE, RTM_NEWRULE } from '../../codecs/rtnetlink/rule.js';
import { SOCK_DIAG_BY_FAMILY } from '../../codecs/sockdiag/inet-diag.js';
import { XFRM_MSG_GETPOLICY, XFRM_MSG_NEWPOLICY } from '../../codecs/xfrm/xfrm.js';
import { ackFor, doneFor, FakeTransport, fromHex } from '../../src/transport/fake.js';
import { NETLINK_GENERIC, NETLINK_NETFILTER, NETLINK_ROUTE, NETLINK_SOCK_DIAG, NETLINK_XFRM, type NetlinkProtocol, type Transport } from '../../src/transport/transport.js';

interface Capture { readonly runs: readonly { readonly replies?: readonly string[] }[] }
export function capturedReplies(name: string): Uint8Array[] {
  const f = JSON.parse(readFileSync(new URL(`../../fixtures/conflicts/${name}.json`, import.meta.url), 'utf8')) as Capture;
  return f.runs.flatMap((r) => r.replies ?? []).map(fromHex);
}
export const capturedMessages = (name: string): NetlinkMessage[] => capturedReplies(name).flatMap((b) => parseMessages(b));

/** the message's bytes with another sequence number (nlmsghdr bytes 8-11, host order) */
function renumber(m: NetlinkMessage, seq: number): Uint8Array {
  const out = new Uint8Array(16 + m.payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true); v.setUint16(4, m.header.type, true); v.setUint16(6, m.header.flags, true);
  v.setUint32(8, seq, true); v.setUint32(12, 0, true);
  out.set(m.payload, 16);
  return out;
}

const nftString = (req: NetlinkMessage, type: number): string | undefined => {
  for (const a of new AttributeReader(req.payload.subarray(nfgenmsg.size))) if (a.type === type) return attr.string(a);
  return undefined;
};

export class CapturedKernel {
  /** every request, with the protocol it came on */
  readonly requests: { readonly protocol: NetlinkProtocol; readonly message: NetlinkMessage }[] = [];
  private readonly nft = capturedMessages('nft-ruleset');
  private readonly rules = capturedMessages('ip-rules').filter((m) => m.header.type === RTM_NEWRULE);
  private readonly xfrm = capturedMessages('xfrm-policy').filter((m) => m.header.type === XFRM_MSG_NEWPOLICY);
  private readonly sockets = capturedMessages('udp-sockets').filter((m) => m.header.type === SOCK_DIAG_BY_FAMILY);

  private answer(p: NetlinkProtocol, r: NetlinkMessage): NetlinkMessage[] | number {
    const t = r.header.type;
    if (p === NETLINK_NETFILTER) {
      const fam = r.payload[0]!;
      if (t === nftType(NFT_MSG_GETTABLE)) return this.nft.filter((m) => m.header.type === nftType(NFT_MSG_NEWTABLE));
      if (t === nftType(NFT_MSG_GETRULE)) {
        const table = nftString(r, 1);
        return this.nft.filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE) && decodeRule(m).table === table && decodeRule(m).family === fam);
      }
      if (t === nftType(NFT_MSG_GETSETELEM)) {
        const set = nftString(r, 2); // NFTA_SET_ELEM_LIST_SET
        return this.nft.filter((m) => m.header.type === nftType(NFT_MSG_NEWSETELEM) && decodeSetElems(m).set === set);
      }
      return [];
    }
    if (p === NETLINK_ROUTE) return t === RTM_GETRULE ? this.rules.filter((m) => m.payload[0] === r.payload[0]) : [];
    if (p === NETLINK_XFRM) return t === XFRM_MSG_GETPOLICY ? this.xfrm : [];
    if (p === NETLINK_SOCK_DIAG) return this.sockets.filter((m) => m.payload[0] === r.payload[0] && r.payload[1] === 17);
    if (p === NETLINK_GENERIC) return ENOENT; // no IPVS, no wireguard
    return [];
  }

  connect(p: NetlinkProtocol): Transport {
    return new FakeTransport(p, (reqs) => reqs.flatMap((r) => {
      this.requests.push({ protocol: p, message: r });
      const a = this.answer(p, r);
      if (typeof a === 'number') return [ackFor(r, a)];
      return [...a.map((m) => renumber(m, r.header.seq)), doneFor(r.header.seq)];
    }));
  }
  get factory(): (p: NetlinkProtocol) => Transport { return (p) => this.connect(p); }
}
