/**
 * What list, delete and update do with address-list sets (address-sets.ts) against the kernel:
 * read the table's sets, join the family rules of a mixed list into one record, and delete rules
 * with their sets in one batch. An update's elements are computed in address-set-changes.ts.
 */
import { BatchWriter } from '../../../codecs/nftables/batch.js';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, type NetlinkMessage } from '../../../codecs/netlink/message.js';
import { decodeRule, NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_GETRULE, NFT_MSG_NEWRULE, nftType, writeRule, type NftRule } from '../../../codecs/nftables/messages.js';
import {
  decodeSet, decodeSetElems, decodeSetElemsPacked, NFT_MSG_DELSET, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, NFT_SET_ANONYMOUS,
  writeSet, writeSetDump, writeSetElemDump, type NftSetElem,
} from '../../../codecs/nftables/set.js';
import { ENOENT } from '../../../codecs/errno.js';
import { PackedCollector, type PackedSetElems } from '../../../codecs/nftables/set-elems-packed.js';
import type { Family } from '../../../codecs/address.js';
import { PktmarkError } from '../../errors.js';
import { dump, execute } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';
import type { RuleRecord } from '../backend.js';
import type { WrittenRule } from './template.js';
import { explainNft } from './explain.js';
import { joinFamilyRules, listSetInfo, lookedUpSets, parseSetName, setName, type ListField, type ListSetInfo } from './address-sets.js';
import { portListText } from './port-sets.js';

/** What the GETSET dump says of a list set: its flags, its declared size, how many elements it holds. */
export interface ListSetMeta {
  readonly flags: number;
  /** NFTA_SET_DESC_SIZE: the kernel refuses elements past it (ENFILE) */
  readonly size?: number;
  /** NFTA_SET_COUNT (Linux 6.13+; undefined on older kernels) */
  readonly count?: number;
}

/** The table's sets as list and update need them: anonymous port lists, and pktmark's list sets by name. */
export interface TableSets {
  readonly ports: Map<string, string>;
  readonly lists: Map<string, ListSetInfo>;
  /** every list set's flags, size and count (elements not read), by name */
  readonly names: Map<string, ListSetMeta>;
}

async function setNames(t: Transport, table: string): Promise<({ name: string } & ListSetMeta)[]> {
  let msgs: NetlinkMessage[];
  try {
    msgs = await dump(t, `list sets of inet ${table}`, (w, seq) => writeSetDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO_INET, table));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return [];
    throw e;
  }
  return msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWSET)).map(decodeSet).filter((s) => s.table === table)
    .map((s) => ({ name: s.name, flags: s.flags ?? 0, ...(s.desc?.size !== undefined ? { size: s.desc.size } : {}), ...(s.count !== undefined ? { count: s.count } : {}) }));
}

async function setElements(t: Transport, table: string, name: string): Promise<NftSetElem[] | undefined>;
async function setElements(t: Transport, table: string, name: string, packed: true): Promise<NftSetElem[] | PackedSetElems | undefined>;
/**
 * One GETSETELEM dump. `packed`: an IPv4 list set's elements come back as typed arrays (no
 * object per element: a 100,000-element list set took 0.7 s to decode as objects), unless a
 * message holds anything else — then all of them are decoded as objects.
 */
async function setElements(t: Transport, table: string, name: string, packed = false): Promise<NftSetElem[] | PackedSetElems | undefined> {
  let msgs: NetlinkMessage[];
  try {
    msgs = await dump(t, `list elements of set ${name}`, (w, seq) => writeSetElemDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO_INET, table, name));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return undefined;
    throw e;
  }
  const mine = msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWSETELEM));
  if (packed) {
    const c = new PackedCollector();
    if (mine.every((m) => decodeSetElemsPacked(m, c))) return c.result();
  }
  return mine.flatMap((m) => decodeSetElems(m).elements);
}

/**
 * A GETSET dump for the names, then one GETSETELEM dump per set, as `nft list ruleset` reads
 * them. `elements: false` reads only the names (delete needs no more). A set gone meanwhile,
 * or holding anything else, is left out; a rule looking it up then lists raw.
 */
export async function readTableSets(t: Transport, table: string, elements = true): Promise<TableSets> {
  const out: TableSets = { ports: new Map(), lists: new Map(), names: new Map() };
  for (const s of await setNames(t, table)) {
    const anon = (s.flags & NFT_SET_ANONYMOUS) !== 0;
    const list = !anon && parseSetName(s.name) !== undefined;
    if (list) out.names.set(s.name, { flags: s.flags, ...(s.size !== undefined ? { size: s.size } : {}), ...(s.count !== undefined ? { count: s.count } : {}) });
    if (!elements || (!anon && !list)) continue;
    if (anon) {
      const els = await setElements(t, table, s.name);
      const text = els && portListText(els);
      if (text !== undefined) out.ports.set(s.name, text);
    } else {
      const els = await setElements(t, table, s.name, true);
      const info = els && listSetInfo(s.name, s.flags, els);
      if (info) out.lists.set(s.name, info);
    }
  }
  return out;
}

const tagOf = (r: NftRule): { tag: string; family: Family } | undefined => {
  const s = lookedUpSets(r.exprs);
  return s.length > 0 && s.every((x) => x.tag === s[0].tag && x.family === s[0].family) ? { tag: s[0].tag, family: s[0].family } : undefined;
};

/**
 * Records in dump order, the two family rules of one mixed list joined into one record (id:
 * the lower handle; counters summed). They are neighbours in the chain (one batch sent them
 * back to back); anything else is yielded as it is.
 */
export async function* joinFamilies(rules: AsyncIterable<NftRule>, record: (r: NftRule) => RuleRecord, sets: TableSets, table: string): AsyncGenerator<RuleRecord> {
  let held: { r: NftRule; rec: RuleRecord; tag: string; family: Family } | undefined;
  const mixed = (tag: string): boolean => {
    const fams = new Set([...sets.names.keys()].map(parseSetName).filter((p) => p?.tag === tag).map((p) => p!.family));
    return fams.size === 2;
  };
  for await (const r of rules) {
    const rec = record(r);
    const tg = rec.rule ? tagOf(r) : undefined;
    if (held) {
      const h = held;
      held = undefined;
      const near = r.handle !== undefined && h.r.handle !== undefined && (r.handle - h.r.handle === 1n || h.r.handle - r.handle === 1n);
      if (tg && tg.tag === h.tag && tg.family !== h.family && near && r.chain === h.r.chain) {
        const [a, b] = h.family === 'ip' ? [h.rec, rec] : [rec, h.rec];
        const joined = joinFamilyRules(a.rule!, b.rule!);
        if (joined) {
          const low = r.handle! < h.r.handle! ? rec : h.rec;
          yield { id: low.id, via: 'nft', rule: joined, packets: a.packets + b.packets, bytes: a.bytes + b.bytes, text: explainNft(joined, table) };
          continue;
        }
      }
      yield h.rec;
    }
    if (tg && mixed(tg.tag)) { held = { r, rec, tag: tg.tag, family: tg.family }; continue; }
    yield rec;
  }
  if (held) yield held.rec;
}

/** GETRULE of one rule by handle (not a dump): the rule, or undefined when it does not exist. */
export async function getRule(t: Transport, table: string, chain: string, handle: bigint): Promise<NftRule | undefined> {
  let replies: NetlinkMessage[];
  try {
    replies = await execute(t, `get rule ${chain} ${handle}`, (w, seq) => writeRule(w, NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_ACK, seq, { family: NFPROTO_INET, table, chain, handle, exprs: [] }));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return undefined;
    throw e;
  }
  const m = replies.find((x) => x.header.type === nftType(NFT_MSG_NEWRULE));
  return m ? decodeRule(m) : undefined;
}

/** A list rule's kernel parts: its family rules (handles, and the rules as read) and the names of all its sets. */
export interface ListRuleParts { readonly tag: string; readonly handles: readonly bigint[]; readonly rules: readonly NftRule[]; readonly sets: readonly string[] }

/**
 * The kernel rules and sets behind the id `chain:handle`, when its rule looks up list sets:
 * the rule, its other-family neighbour (handle ± 1, checked to use the same tag), and every
 * set of the tag. undefined for a rule without list sets; NOT_FOUND when there is no rule.
 */
export async function listRuleParts(t: Transport, table: string, chain: string, handle: bigint, names: ReadonlyMap<string, unknown>, id: string): Promise<ListRuleParts | undefined> {
  const r = await getRule(t, table, chain, handle);
  if (!r) throw new PktmarkError('NOT_FOUND', `rule ${id} does not exist`, { field: 'id' });
  const tg = tagOf(r);
  if (!tg) return undefined;
  const sets = [...names.keys()].filter((n) => parseSetName(n)?.tag === tg.tag);
  const handles = [handle];
  const rules = [r];
  if (sets.some((n) => parseSetName(n)!.family !== tg.family)) {
    for (const h of [handle + 1n, handle - 1n]) {
      const p = h > 0n ? await getRule(t, table, chain, h) : undefined;
      const pt = p && tagOf(p);
      if (pt && pt.tag === tg.tag && pt.family !== tg.family) { handles.push(h); rules.push(p); break; }
    }
  }
  return { tag: tg.tag, handles, rules, sets };
}

/** DELRULE for each rule, then DELSET for each list set (a set still bound to a rule cannot go first). */
export function encodeDeleteWithSets(table: string, rules: readonly { chain: string; handle: bigint; i: number }[], sets: readonly { name: string; i: number }[], nextSeq: () => number): import('../../../codecs/nftables/batch.js').Batch<WrittenRule> {
  const b = new BatchWriter<WrittenRule>(64 + (rules.length + sets.length) * 64, nextSeq);
  const n = rules.length + sets.length;
  let k = 0;
  let ackSeq = 0;
  const flags = (): number => NLM_F_REQUEST | (++k === n ? NLM_F_ACK : 0);
  for (const u of rules) {
    const f = flags();
    const seq = b.add('delete', u.i, (w, seq) => writeRule(w, NFT_MSG_DELRULE, f, seq, { family: NFPROTO_INET, table, chain: u.chain, handle: u.handle, exprs: [] }));
    if (k === n) ackSeq = seq;
  }
  for (const s of sets) {
    const f = flags();
    const seq = b.add('set', s.i, (w, seq) => writeSet(w, NFT_MSG_DELSET, f, seq, { family: NFPROTO_INET, table, name: s.name }));
    if (k === n) ackSeq = seq;
  }
  return b.finish(ackSeq);
}

export { setName, setElements };
