/**
 * Reading pktmark's table back: a GETRULE dump, streamed (execute.ts's dumpStream), each rule
 * decoded as it arrives. Rule handles are unique within a table (the kernel's per-table
 * handle generator), so they are what a restarted dump skips by.
 */
import { decodeRule, NFPROTO_INET, NFT_MSG_NEWRULE, nftType, writeRuleDump, type NftRule } from '../../../codecs/nftables/messages.js';
import { NLM_F_DUMP, NLM_F_REQUEST, type NetlinkMessage } from '../../../codecs/netlink/message.js';
import { ENOENT } from '../../../codecs/errno.js';
import { PktmarkError } from '../../errors.js';
import { dumpStream, type Fill } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';

/** GETRULE dump of one table (NLM_F_DUMP, NFTA_RULE_TABLE), as `nft list table` asks. */
export const getRules = (table: string): Fill => (w, seq) => writeRuleDump(w, NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO_INET, table);

const NEWRULE = nftType(NFT_MSG_NEWRULE);

/** The rules of `inet table`, in the kernel's order (chain by chain), one at a time. ENOENT (no table) → none. */
export function streamRules(t: Transport, table: string): AsyncGenerator<NftRule> {
  // handles fit a double: the kernel counts them up from 1 per table
  return streamRuleRows(t, table, (m) => {
    const r = decodeRule(m);
    return r.table === table ? r : undefined;
  }, (r) => (r.handle === undefined ? `${r.chain}:?` : Number(r.handle)));
}

/**
 * The same dump with each NEWRULE message made into a row by `decode` (apply reads rules it
 * knows without decoding their expressions: apply/known-rules.ts); undefined drops a message.
 */
export async function* streamRuleRows<T>(t: Transport, table: string, decode: (m: NetlinkMessage) => T | undefined, key: (row: T) => number | string): AsyncGenerator<T> {
  const rows = { decode: (m: NetlinkMessage): T | undefined => (m.header.type === NEWRULE ? decode(m) : undefined), key };
  try {
    yield* dumpStream(t, `list rules of inet ${table}`, getRules(table), rows);
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return;
    throw e;
  }
}

/** Every rule of the table, collected (the add path's handle lookup). */
export async function dumpRules(t: Transport, table: string): Promise<NftRule[]> {
  const out: NftRule[] = [];
  for await (const r of streamRules(t, table)) out.push(r);
  return out;
}
