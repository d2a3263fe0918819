/**
 * Port lists (`-m multiport --dports 80,443,1000:2000`, `dports: [80, 443, '1000-2000']`) as nft
 * sends `tcp dport { 80, 443, 1000-2000 }`: an anonymous constant set created in the rule's own
 * batch (NEWSET "__set%d" + NEWSETELEM, both naming the batch-local NFTA_SET_ID), then a lookup
 * in the rule naming the set and its id (fixtures/nft/set-anon-ports.json,
 * set-anon-port-intervals.json). Plain ports make a hash set; any range makes an interval set
 * with nft's merge-elements userdata. The kernel frees an anonymous set with its rule, so a
 * DELRULE needs nothing more.
 */
import {
  encodeSetUserdata, NFT_BYTEORDER_BIG_ENDIAN, NFT_DATATYPE, NFT_SET_ANONYMOUS, NFT_SET_CONSTANT, NFT_SET_ELEM_INTERVAL_END,
  NFT_SET_INTERVAL, type NftSet, type NftSetElem,
} from '../../../codecs/nftables/set.js';
import { hashElements, intervalElements, intervalRanges } from '../../../codecs/nftables/set-intervals.js';
import { NFPROTO_INET } from '../../../codecs/nftables/messages.js';
import type { PortMatch } from '../../ports.js';
import type { MarkRule } from '../../rule.js';

/** The name nft gives an anonymous set; the kernel replaces %d with a number. */
export const ANON_SET_NAME = '__set%d';

/** nft's proto_desc ids (nftables include/proto.h, enum proto_desc_id) for the typeof record. */
const PROTO_DESC: Readonly<Record<number, number>> = { 6: 8, 17: 6, 33: 9, 132: 10, 136: 7 };
/** The header field ids of tcp/udp/dccp/sctp/udplite: sport 1, dport 2. */
const FIELD_ID = { sport: 1, dport: 2 } as const;

/** A list needs a set; one port or one range is a compare (rule.ts). */
export const needsSet = (p: PortMatch | undefined): p is PortMatch => p !== undefined && p.ranges.length > 1;

export interface AnonPortSet {
  readonly field: 'sport' | 'dport';
  readonly set: NftSet;
  readonly elements: readonly NftSetElem[];
}

/** The set ids a rule's lookups use, as the batch hands them out. */
export type PortSetIds = Partial<Record<'sport' | 'dport', number>>;

/** Set ids for one rule when nothing else shares its batch (explain, dry runs): 1, 2 like nft. */
export function defaultSetIds(rule: MarkRule): PortSetIds {
  let next = 1;
  const out: { sport?: number; dport?: number } = {};
  if (needsSet(rule.sports)) out.sport = next++;
  if (needsSet(rule.dports)) out.dport = next++;
  return out;
}

/** NEWSET + elements for each port list of `rule`, in the order rule.ts looks them up (sport, dport). */
export function anonPortSets(rule: MarkRule, table: string, ids: PortSetIds): AnonPortSet[] {
  const out: AnonPortSet[] = [];
  for (const field of ['sport', 'dport'] as const) {
    const p = field === 'sport' ? rule.sports : rule.dports;
    const id = ids[field];
    if (!needsSet(p) || id === undefined) continue;
    const interval = p.ranges.some((r) => r.from !== r.to);
    const elements = interval
      ? intervalElements(p.ranges.map((r) => ({ first: BigInt(r.from), last: BigInt(r.to) })), 2, { intoEmptySet: true })
      : hashElements(p.ranges.map((r) => BigInt(r.from)), 2);
    const desc = PROTO_DESC[rule.proto ?? 0];
    out.push({
      field,
      elements,
      set: {
        family: NFPROTO_INET, table, name: ANON_SET_NAME,
        flags: NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | (interval ? NFT_SET_INTERVAL : 0),
        keyType: NFT_DATATYPE.inet_service, keyLen: 2, id, desc: { size: elements.length },
        userdata: encodeSetUserdata({
          keyByteorder: NFT_BYTEORDER_BIG_ENDIAN,
          ...(interval ? { mergeElements: true } : {}),
          ...(desc !== undefined ? { keyTypeof: { desc, field: FIELD_ID[field] } } : {}),
        }),
      },
    });
  }
  return out;
}

/** The list text (`80,443,1000-2000`) of a dumped anonymous port set; interval sets carry END flags. */
export function portListText(elements: readonly NftSetElem[]): string | undefined {
  if (elements.some((e) => e.key.length !== 2)) return undefined;
  const interval = elements.some((e) => ((e.flags ?? 0) & NFT_SET_ELEM_INTERVAL_END) !== 0 || e.userdata !== undefined);
  const ranges = interval
    ? intervalRanges(elements, 2).map((r) => ({ from: Number(r.first), to: Number(r.last) }))
    : elements.map((e) => { const k = (e.key[0] << 8) | e.key[1]; return { from: k, to: k }; });
  if (ranges.length === 0) return undefined;
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
}
