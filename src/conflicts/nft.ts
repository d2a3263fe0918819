/**
 * nftables: every table of every family (a GETTABLE dump with family NFPROTO_UNSPEC), each
 * table's rules (GETRULE), and the data elements of maps that write a mark (GETSETELEM).
 * iptables-nft's tables are nft tables too, their xt matches and targets decoded by nft-rule.ts.
 */
import { NLM_F_DUMP, NLM_F_REQUEST, writeMessage } from '../../codecs/netlink/message.js';
import {
  decodeRule, decodeTable, header, NFT_MSG_GETTABLE, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, NFPROTO_INET, nftType, writeRuleDump, type NftTable,
} from '../../codecs/nftables/messages.js';
import { decodeSetElems, NFT_MSG_NEWSETELEM, writeSetElemDump } from '../../codecs/nftables/set.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { dump } from '../transport/execute.js';
import { NETLINK_NETFILTER, type Transport } from '../transport/transport.js';
import { guarded } from './guard.js';
import { hex, ruleMarkUses } from './nft-rule.js';
import type { Scanner, ScanContext } from './types.js';

const FAMILIES: Readonly<Record<number, string>> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };
export const familyName = (f: number): string => FAMILIES[f] ?? `family${f}`;
const SOURCE = 'nft' as const;

async function tables(t: Transport): Promise<NftTable[]> {
  // as `nft list tables` asks: family NFPROTO_UNSPEC, no attributes — every table of every family
  const msgs = await dump(t, 'list nft tables', (w, seq) => writeMessage(w, nftType(NFT_MSG_GETTABLE), NLM_F_REQUEST | NLM_F_DUMP, seq, () => header(w, 0)));
  return msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWTABLE)).map(decodeTable);
}

/** A map's data values (4-byte host-order marks) */
async function mapValues(t: Transport, family: number, table: string, set: string): Promise<number[]> {
  const msgs = await dump(t, `list elements of ${familyName(family)} ${table} @${set}`, (w, seq) => writeSetElemDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, family, table, set));
  const out = new Set<number>();
  for (const m of msgs) {
    if (m.header.type !== nftType(NFT_MSG_NEWSETELEM)) continue;
    for (const e of decodeSetElems(m).elements) {
      if (e.data?.length === 4) out.add(new DataView(e.data.buffer, e.data.byteOffset, 4).getUint32(0, HOST_LITTLE_ENDIAN));
    }
  }
  return [...out];
}

async function scanTable(ctx: ScanContext, t: Transport, tb: NftTable): Promise<void> {
  const fam = familyName(tb.family);
  const own = tb.family === NFPROTO_INET && tb.name === ctx.table;
  if (own && ctx.skipOwn) return;
  const owner = own ? 'pktmark' : `table ${fam} ${tb.name}`;
  const msgs = await guarded(ctx, SOURCE, `rules of table ${fam} ${tb.name}`, () =>
    dump(t, `list rules of ${fam} ${tb.name}`, (w, seq) => writeRuleDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, tb.family, tb.name)));
  for (const m of msgs ?? []) {
    if (m.header.type !== nftType(NFT_MSG_NEWRULE)) continue;
    const r = decodeRule(m);
    for (const u of ruleMarkUses(r.exprs)) {
      let values = u.values;
      if (u.map) {
        const v = await guarded(ctx, SOURCE, `map ${fam} ${tb.name} @${u.map}`, () => mapValues(t, tb.family, tb.name, u.map!));
        if (v?.length) values = v;
      }
      ctx.user({
        source: SOURCE, owner, bits: u.bits, action: u.action, on: u.on,
        ...(values?.length ? { values } : {}), ...(u.whole ? { whole: u.whole } : {}),
        detail: `${fam} ${tb.name} ${r.chain} handle ${r.handle ?? '?'}: ${u.text}${u.map && values?.length ? ` (values ${values.map(hex).join(', ')})` : ''}`,
      });
    }
  }
}

export const nftScanner: Scanner = {
  reads: 'nftables rules of every table and family (iptables-nft included), and maps that set marks',
  async scan(ctx) {
    const t = await ctx.transport(NETLINK_NETFILTER);
    const all = await guarded(ctx, SOURCE, 'nft tables', () => tables(t));
    for (const tb of all ?? []) await scanTable(ctx, t, tb);
  },
};
