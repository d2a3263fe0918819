/** pktmark's nft rule ids: `nft:CHAIN:HANDLE`. */
import { PktmarkError } from '../../errors.js';
import { BASE_CHAINS, chainByName, userChainOf } from './chains.js';

/**
 * Joined rather than `nft:${chain}:${handle}`: that is a tree of three V8 cons strings plus the
 * handle's digits (~130 bytes), and apply's state keeps one id per kernel rule (~45 bytes flat).
 */
export function ruleId(chain: string, handle: bigint | number): string { return ['nft', chain, String(handle)].join(':'); }

/** `nft:CHAIN:HANDLE`, CHAIN one of the base chains (chains.ts) or a user chain `raw.NAME` / `mangle.NAME`. */
export function parseRuleId(id: string): { chain: string; handle: bigint } {
  const m = typeof id === 'string' ? /^nft:([^:\s]+):([1-9]\d{0,19})$/.exec(id) : null;
  if (!m || !(chainByName(m[1]) || userChainOf(m[1])) || BigInt(m[2]) > 0xffffffffffffffffn) {
    throw new PktmarkError('INVALID_ID', `rule id ${JSON.stringify(id)} is not an nft rule id (nft:CHAIN:HANDLE, CHAIN one of ${BASE_CHAINS.map((c) => c.name).join(', ')} or raw.NAME, mangle.NAME)`, { field: 'id' });
  }
  return { chain: m[1], handle: BigInt(m[2]) };
}
