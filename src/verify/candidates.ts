/**
 * Who could have changed the mark: the nft rules of the namespace (every table, every family
 * that sees IP packets) that write skb->mark — `meta mark set …` and iptables-nft's `-j MARK` —
 * with the bits each can change and where it runs (hook and priority; a regular chain runs where
 * the base chains that jump to it run). Read only; a self-contained nft lookup until the live
 * conflicts scan (issue 12 part 1) can answer the same question.
 */
import { AttributeReader, attr } from '../../codecs/netlink/attributes.js';
import { NLM_F_DUMP, NLM_F_REQUEST, writeMessage } from '../../codecs/netlink/message.js';
import {
  decodeChain, decodeRule, header, NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE,
  NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, nftType, type NftChain, type NftRule,
} from '../../codecs/nftables/messages.js';
import { NFT_META_MARK } from '../../codecs/nftables/expr/meta.js';
import { exprData, exprName, type Expr } from '../../codecs/nftables/expr/index.js';
import { isBoolBitwise } from '../../codecs/nftables/expr/bitwise.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { dump } from '../transport/execute.js';
import type { Transport } from '../transport/transport.js';
import type { Family } from '../rule.js';
import { HOOKS, type HookName } from './plan.js';

/** One rule that writes the mark, at one place it runs. */
export interface MarkWriter {
  readonly family: 'inet' | 'ip' | 'ip6';
  readonly table: string;
  readonly chain: string;
  readonly handle: string;
  readonly hook: HookName;
  readonly priority: number;
  /** the base chain that jumps to `chain`, when `chain` is a regular chain */
  readonly via?: string;
  /** the mark bits the rule can change (0xffffffff when it copies a whole value in) */
  readonly bits: number;
}

const FAMILIES: Readonly<Record<number, MarkWriter['family']>> = { [NFPROTO_INET]: 'inet', [NFPROTO_IPV4]: 'ip', [NFPROTO_IPV6]: 'ip6' };
const HOOK_NAMES = new Map<number, HookName>(Object.entries(HOOKS).map(([k, v]) => [v, k as HookName]));
/** linux/netfilter/nf_tables.h enum nft_verdicts */
const NFT_JUMP = -3;
const NFT_GOTO = -4;
const ALL = 0xffffffff;

const hostU32 = (b: Uint8Array, at = 0): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, HOST_LITTLE_ENDIAN);

/** iptables-nft's `xt` target payload: NFTA_TARGET_NAME 1, NFTA_TARGET_REV 2, NFTA_TARGET_INFO 3. */
function xtTargetBits(bytes: Uint8Array): number | undefined {
  let name: string | undefined, rev: number | undefined, info: Uint8Array | undefined;
  for (const a of new AttributeReader(bytes)) {
    if (a.type === 1) name = attr.string(a);
    else if (a.type === 2) rev = attr.u32(a, 'be');
    else if (a.type === 3) info = a.data;
  }
  // MARK rev 2 (xt_mark_tginfo2 {mark, mask}, host order): new = (old & ~mask) ^ mark
  if (name === 'MARK' && rev === 2 && info && info.length >= 8) return (hostU32(info, 0) | hostU32(info, 4)) >>> 0;
  if (name === 'MARK' || name === 'CONNMARK') return ALL; // other revisions, --restore-mark: counted as every bit
  return undefined;
}

/**
 * The bits one rule's statements can change in skb->mark, or 0 when it writes none. Registers
 * are followed: `meta mark` loaded then masked (`and ~M or V`) changes ~M|V; an immediate, a
 * `ct mark`, a map lookup — any other value stored — counts as all 32 bits.
 */
export function markBits(exprs: readonly Expr[]): number {
  // per register: the bits changed relative to the packet's mark, or ALL for foreign values
  const regs = new Map<number, number>();
  let bits = 0;
  for (const e of exprs) {
    if (e.kind === 'meta' && e.key === NFT_META_MARK && e.sreg !== undefined) bits |= regs.get(e.sreg) ?? ALL;
    else if (e.kind === 'meta' && e.dreg !== undefined) regs.set(e.dreg, e.key === NFT_META_MARK ? 0 : ALL);
    else if (isBoolBitwise(e) && e.len === 4 && e.mask.length === 4 && e.xor.length === 4) {
      const before = regs.get(e.sreg) ?? ALL;
      regs.set(e.dreg, (before | ~hostU32(e.mask) | hostU32(e.xor)) >>> 0);
    } else if ('dreg' in e && typeof e.dreg === 'number' && e.dreg !== 0) regs.set(e.dreg, ALL);
    else if (exprName(e) === 'target') bits |= xtTargetBits(exprData(e)) ?? 0;
  }
  return bits >>> 0;
}

const dumpAll = (msg: number): ((w: Parameters<Parameters<typeof dump>[2]>[0], seq: number) => void) =>
  (w, seq) => writeMessage(w, nftType(msg), NLM_F_REQUEST | NLM_F_DUMP, seq, (w) => header(w, 0));

/** Every mark writer of the namespace except in `skipTable` (verify's own observers). */
export async function markWriters(t: Transport, skipTable: string): Promise<MarkWriter[]> {
  const chains: NftChain[] = (await dump(t, 'list chains', dumpAll(NFT_MSG_GETCHAIN)))
    .filter((m) => m.header.type === nftType(NFT_MSG_NEWCHAIN)).map(decodeChain);
  const rules: NftRule[] = (await dump(t, 'list rules', dumpAll(NFT_MSG_GETRULE)))
    .filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE)).map(decodeRule);
  const key = (family: number, table: string, chain: string): string => `${family}\0${table}\0${chain}`;
  // jump/goto edges, to place regular chains under the base chains that reach them
  const jumps = new Map<string, Set<string>>();
  for (const r of rules) {
    for (const e of r.exprs) {
      if (e.kind === 'immediate' && e.verdict?.chain !== undefined && (e.verdict.code === NFT_JUMP || e.verdict.code === NFT_GOTO)) {
        const from = key(r.family, r.table, r.chain);
        jumps.set(from, (jumps.get(from) ?? new Set()).add(e.verdict.chain));
      }
    }
  }
  /** the base chains (with hooks) that run `chain`: itself, or those that jump to it (transitively) */
  const bases = new Map<string, NftChain[]>();
  for (const c of chains) {
    if (!c.hook || !FAMILIES[c.family] || !HOOK_NAMES.has(c.hook.num)) continue;
    const seen = new Set<string>([c.name]);
    const todo = [c.name];
    while (todo.length) {
      const name = todo.pop()!;
      const k = key(c.family, c.table, name);
      bases.set(k, [...(bases.get(k) ?? []), c]);
      for (const next of jumps.get(k) ?? []) if (!seen.has(next)) { seen.add(next); todo.push(next); }
    }
  }
  const out: MarkWriter[] = [];
  for (const r of rules) {
    const family = FAMILIES[r.family];
    if (!family || r.table === skipTable) continue;
    const bits = markBits(r.exprs);
    if (bits === 0) continue;
    for (const b of bases.get(key(r.family, r.table, r.chain)) ?? []) {
      out.push({
        family, table: r.table, chain: r.chain, handle: String(r.handle ?? '?'), hook: HOOK_NAMES.get(b.hook!.num)!,
        priority: b.hook!.priority, ...(b.name !== r.chain ? { via: b.name } : {}), bits,
      });
    }
  }
  return out;
}

/** Whether a writer of `family` sees packets of a rule of `ruleFamily` (absent: both). */
export const seesFamily = (w: MarkWriter, ruleFamily: Family | undefined): boolean =>
  w.family === 'inet' || ruleFamily === undefined || w.family === ruleFamily;

export function writerText(w: MarkWriter): string {
  return `table ${w.family} ${w.table} chain ${w.chain}${w.via ? ` (from ${w.via})` : ''} handle ${w.handle} sets bits 0x${w.bits.toString(16).padStart(8, '0')}`;
}
