/**
 * The IPv4 keys of an AddressList, kept from parsing it (parseAddressList) for the add that
 * encodes its set: the list's entries are text, and parsing 100,000 of them a second time cost
 * as much as the first (issue 13). A list made any other way (read back from the kernel, built
 * by hand) has none kept; its set is planned from its entries as before.
 */
import type { V4Ranges } from '../codecs/nftables/v4-ranges.js';
import type { AddressList } from './addresses.js';

const kept = new WeakMap<AddressList, V4Ranges>();

export function keepV4Keys(l: AddressList, r: V4Ranges): void { kept.set(l, r); }

/** The list's IPv4 ranges as its set holds them (distinct addresses ascending, or merged ranges), if parsing kept them. */
export function keptV4Keys(l: AddressList): V4Ranges | undefined { return kept.get(l); }
