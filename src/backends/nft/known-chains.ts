/**
 * The chains of pktmark's table that exist in the kernel, as each transport last learned: an add
 * leaves out the NEWCHAIN of a chain the kernel already has.
 *
 * Why: re-declaring an existing chain is not free. The kernel makes it a chain-update
 * transaction and frees that only after an RCU grace period (nf_tables_trans_destroy_work), and
 * closing an nfnetlink socket waits for that work (the NETLINK_URELEASE notifier flushes it):
 * 6–20 ms here at the end of every `pktmark add` process into an existing table. `nft -f`
 * declaring the chain pays the same; `nft add rule` does not, and neither does a NEWTABLE of an
 * unchanged table, which the batch still carries.
 *
 * Learned from a chain dump (the first add of a transport into an existing table) and from the
 * transport's own committed batches. A stale entry (another writer deleted the chain) costs one
 * refused batch, nothing applied: the kernel answers ENOENT and the add sends again with every
 * chain declared (nft/index.ts).
 */
import { NLM_F_DUMP, NLM_F_REQUEST, writeMessage } from '../../../codecs/netlink/message.js';
import { decodeChain, header, NFPROTO_INET, NFT_MSG_GETCHAIN, NFT_MSG_NEWCHAIN, nftType } from '../../../codecs/nftables/messages.js';
import { dump } from '../../transport/execute.js';
import type { Transport } from '../../transport/transport.js';

const known = new WeakMap<Transport, Map<string, Set<string>>>();

/** Nothing known: every chain is declared. */
export const NO_CHAINS: ReadonlySet<string> = new Set();

export function knownChains(t: Transport, table: string): ReadonlySet<string> | undefined {
  return known.get(t)?.get(table);
}

/** The chains of `inet table` now, by a GETCHAIN dump of the family (as nft's cache fill sends it), remembered for `t`. */
export async function learnChains(t: Transport, table: string): Promise<ReadonlySet<string>> {
  const msgs = await dump(t, `list chains of inet ${table}`, (w, seq) => writeMessage(w, nftType(NFT_MSG_GETCHAIN), NLM_F_REQUEST | NLM_F_DUMP, seq, (w) => header(w, NFPROTO_INET)));
  const names = new Set<string>();
  for (const m of msgs) {
    if (m.header.type !== nftType(NFT_MSG_NEWCHAIN)) continue;
    const c = decodeChain(m);
    if (c.table === table) names.add(c.name);
  }
  tableOf(t).set(table, names);
  return names;
}

/** Chains a committed batch made or used: they exist now. */
export function noteChains(t: Transport, table: string, names: Iterable<string>): void {
  const m = tableOf(t);
  const set = m.get(table) ?? new Set<string>();
  for (const n of names) set.add(n);
  m.set(table, set);
}

/** Forget what `t` knew of `table` (it was cleared, a chain was deleted, or a batch found one missing). */
export function forgetChains(t: Transport, table: string): void {
  known.get(t)?.delete(table);
}

function tableOf(t: Transport): Map<string, Set<string>> {
  let m = known.get(t);
  if (!m) { m = new Map(); known.set(t, m); }
  return m;
}
