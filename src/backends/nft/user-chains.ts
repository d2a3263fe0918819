/**
 * User-defined chains (iptables -N/-X/-F CHAIN) in pktmark's table: a GETCHAIN dump to know
 * them, and one batch for creating, flushing or deleting them. Rules that live in or jump to a
 * user chain create it on first use inside their own add batch (encodeAddBatch), as base chains
 * are made; `-X` is checked first (a chain with rules, or one a rule still jumps to, is BUSY:
 * the kernel's EBUSY would otherwise look like a lost race and be retried).
 */
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REQUEST, writeMessage } from '../../../codecs/netlink/message.js';
import { decodeChain, header, NFPROTO_INET, NFT_MSG_DELCHAIN, NFT_MSG_DELRULE, NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, NFT_MSG_NEWTABLE, nftType, writeChain, writeRule, writeTable } from '../../../codecs/nftables/messages.js';
import { BatchWriter, type Batch } from '../../../codecs/nftables/batch.js';
import { ENOENT } from '../../../codecs/errno.js';
import { PktmarkError } from '../../errors.js';
import type { XtTable } from '../../rule.js';
import { dump } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';
import type { RuleRecord } from '../backend.js';
import { DEFAULT_TABLE, userChainNft, userChainOf } from './chains.js';
import type { WrittenRule } from './template.js';

export interface UserChain { readonly table: XtTable; readonly name: string }
export type ChainOp = { readonly op: 'new' | 'flush' | 'delete'; readonly chain: UserChain };

/** The user chains of `inet table`, in the kernel's order. */
export async function listUserChains(t: Transport, table: string): Promise<UserChain[]> {
  let msgs;
  try {
    // a GETCHAIN dump of the family, as nft's cache fill sends it; other tables' chains are skipped
    msgs = await dump(t, `list chains of inet ${table}`, (w, seq) => writeMessage(w, nftType(NFT_MSG_GETCHAIN), NLM_F_REQUEST | NLM_F_DUMP, seq, (w) => header(w, NFPROTO_INET)));
  } catch (e) {
    if (e instanceof PktmarkError && e.errno === ENOENT) return [];
    throw e;
  }
  const out: UserChain[] = [];
  for (const m of msgs) {
    if (m.header.type !== nftType(NFT_MSG_NEWCHAIN)) continue;
    const c = decodeChain(m);
    const u = c.table === table && c.hook === undefined ? userChainOf(c.name) : undefined;
    if (u) out.push(u);
  }
  return out;
}

/** NEWCHAIN of a regular chain, NLM_F_CREATE without EXCL (idempotent), as `nft add chain inet T mangle.FOO` sends it. */
export function writeUserChain(b: BatchWriter<WrittenRule>, table: string, c: UserChain): void {
  b.add('chain', undefined, (w, seq) => writeChain(w, NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_CREATE, seq, { family: NFPROTO_INET, table, name: userChainNft(c.table, c.name) }));
}

/** DELCHAIN by name (`nft delete chain`). */
export function writeDelChain(b: BatchWriter<WrittenRule>, table: string, nftName: string, flags = NLM_F_REQUEST): number {
  return b.add('chain', undefined, (w, seq) => writeChain(w, NFT_MSG_DELCHAIN, flags, seq, { family: NFPROTO_INET, table, name: nftName }));
}

/** One batch of chain operations; `newTable` adds NEWTABLE (with pktmark's comment) first. */
export function encodeChainBatch(table: string, ops: readonly ChainOp[], nextSeq: () => number, newTable: string | undefined): Batch<WrittenRule> {
  const b = new BatchWriter<WrittenRule>(256 + ops.length * 96, nextSeq);
  if (newTable !== undefined) b.add('table', undefined, (w, seq) => writeTable(w, NFT_MSG_NEWTABLE, NLM_F_REQUEST, seq, { family: NFPROTO_INET, name: table, flags: 0, comment: newTable }));
  let ackSeq = 0;
  ops.forEach((o, i) => {
    const name = userChainNft(o.chain.table, o.chain.name);
    const flags = NLM_F_REQUEST | (i === ops.length - 1 ? NLM_F_ACK : 0);
    if (o.op === 'new') ackSeq = b.add('chain', i, (w, seq) => writeChain(w, NFT_MSG_NEWCHAIN, flags | NLM_F_CREATE, seq, { family: NFPROTO_INET, table, name }));
    // DELRULE without a handle flushes the chain (`nft flush chain`)
    else if (o.op === 'flush') ackSeq = b.add('delete', i, (w, seq) => writeRule(w, NFT_MSG_DELRULE, flags, seq, { family: NFPROTO_INET, table, chain: name, exprs: [] }));
    else ackSeq = b.add('chain', i, (w, seq) => writeChain(w, NFT_MSG_DELCHAIN, flags, seq, { family: NFPROTO_INET, table, name }));
  });
  return b.finish(ackSeq);
}

/** Why user chain `c` cannot be deleted now (its rules, or rules jumping to it), or undefined. */
export function deleteProblem(c: UserChain, rules: readonly RuleRecord[], deleting: readonly UserChain[] = [c]): string | undefined {
  const nft = userChainNft(c.table, c.name);
  const inIt = rules.filter((r) => r.id.split(':').slice(1, -1).join(':') === nft).length;
  if (inIt > 0) return `chain ${c.name} holds ${inIt} rule(s): flush it first (-F ${c.name})`;
  const refs = rules.filter((r) => r.rule?.jump === c.name && (r.rule.table ?? DEFAULT_TABLE[r.rule.hook ?? 'prerouting']) === c.table
    && !deleting.some((d) => r.rule?.chain === d.name && d.table === c.table));
  if (refs.length > 0) return `chain ${c.name} is still jumped to by ${refs.map((r) => r.id).join(', ')}`;
  return undefined;
}
