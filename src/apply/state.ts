/**
 * What pktmark's table holds now, as apply sees it: the ruleset generation first (GETGEN), then
 * the table (ownership) and a dump of its rules. The generation is read *before* the dump, so a
 * batch computed from this view and sent with NFNL_BATCH_GENID = that generation is refused
 * (ERESTART) if anything committed after we looked — including during the dump, which the
 * transport already re-reads when the kernel flags it NLM_F_DUMP_INTR.
 */
import { NLM_F_ACK, NLM_F_REQUEST, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { decodeGen, decodeRule, NFT_MSG_NEWGEN, nftType, writeGetGen, type NftRule } from '../../codecs/nftables/messages.js';
import { decodeRuleUserdata } from '../../codecs/nftables/userdata.js';
import { PktmarkError } from '../errors.js';
import type { MarkRule } from '../rule.js';
import { chainOf } from '../backends/nft/chains.js';
import { execute } from '../transport/execute.js';
import type { Transport } from '../transport/transport.js';
import { ruleId, tableState, type TableState } from '../backends/nft/index.js';
import { streamRuleRows } from '../backends/nft/list.js';
import type { KnownRules } from './known-rules.js';
import { exprsToRule } from '../backends/nft/rule.js';
import { parseSetName } from '../backends/nft/address-sets.js';

export interface CurrentRule {
  readonly chain: string;
  readonly handle: bigint;
  readonly id: string;
  /** the decoded rule (comment included); absent when the rule is not pktmark-shaped */
  readonly rule?: MarkRule;
  /** made by apply (its userdata carries PKTMARK_UDATA_APPLY) */
  readonly managed: boolean;
  readonly name?: string;
  readonly packets: bigint;
  readonly bytes: bigint;
  /** the address-list sets (pm_TAG_…) its lookups name: removing the rule removes them too */
  readonly sets?: readonly string[];
}

export interface CurrentState {
  readonly generation: number;
  readonly table: TableState;
  /** every rule of pktmark's table, chain by chain in kernel order */
  readonly rules: readonly CurrentRule[];
}

/** NFT_MSG_GETGEN → the generation (nf_tables base_seq). */
export async function readGeneration(t: Transport): Promise<number> {
  const replies = await execute(t, 'get ruleset generation', (w, seq) => writeGetGen(w, NLM_F_REQUEST | NLM_F_ACK, seq));
  const m = replies.find((r) => r.header.type === nftType(NFT_MSG_NEWGEN));
  if (!m) throw new PktmarkError('KERNEL', 'the kernel answered GETGEN without a NEWGEN message');
  return decodeGen(m).id;
}

export function currentRule(r: NftRule): CurrentRule {
  const u = decodeRuleUserdata(r.userdata);
  const comment = r.comment ?? u.comment;
  const handle = r.handle ?? 0n;
  const rule = exprsToRule(r.exprs, r.chain, comment);
  let packets = 0n;
  let bytes = 0n;
  let sets: string[] | undefined;
  let counted = false;
  for (const e of r.exprs) {
    if (e.kind === 'counter' && !counted) { packets = e.packets ?? 0n; bytes = e.bytes ?? 0n; counted = true; }
    else if (e.kind === 'lookup' && parseSetName(e.set)) (sets ??= []).push(e.set);
  }
  return {
    chain: r.chain, handle, id: ruleId(r.chain, handle), managed: u.apply === true, packets, bytes,
    ...(rule ? { rule } : {}), ...(u.name !== undefined ? { name: u.name } : {}), ...(sets ? { sets } : {}),
  };
}

/**
 * `generation`: already read by the caller (it must have been read before this dump starts).
 * `knownRules`: the desired rules, whose unchanged copies in the dump are recognised by their bytes;
 * asked for only when the dump has a rule (making it encodes every desired rule).
 */
export async function readState(t: Transport, table: string, generation?: number, knownRules?: () => KnownRules): Promise<CurrentState> {
  generation ??= await readGeneration(t);
  const state = await tableState(t, table);
  // each rule is reduced to its record as it arrives: the decoded messages and expressions of a
  // 10,000-rule dump then die young instead of all being alive at once (the agent's peak RSS)
  const rules: CurrentRule[] = [];
  if (state === 'absent') return { generation, table: state, rules };
  let known: KnownRules | undefined;
  const decode = (m: NetlinkMessage): CurrentRule | undefined => {
    const fast = (known ??= knownRules?.())?.match(m.payload);
    if (fast) return fast;
    const r = decodeRule(m);
    return r.table === table ? currentRule(r) : undefined;
  };
  for await (const r of streamRuleRows(t, table, decode, (c) => Number(c.handle))) rules.push(r);
  return { generation, table: state, rules };
}

/** The generation after one commit of ours: nf_tables_commit() increments base_seq once, skipping 0. */
export const nextGeneration = (g: number): number => ((g + 1) >>> 0) || 1;

/** The chain a rule lives in (one per iptables table and hook: backends/nft/chains.ts). */
export const chainNameOf = (r: MarkRule): string => chainOf(r);
