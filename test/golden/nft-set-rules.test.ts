/**
 * Golden bytes for pktmark's address-list add (`src: [...]`): the NEWSET, NEWSETELEM and
 * NEWRULE of `encode()` against the batch nft 1.0.6 sent for the same set (a hash set with the
 * `size` pktmark declares), elements and lookup rule (fixtures/nft/set-list-rule-*.json, fixtures/capture-nft-sets.sh), whole messages after
 * zeroing sequence numbers and port ids. Intended differences, each asserted: nft repeats an
 * interval set's ranges in a second NEWSETELEM, pktmark sends them once; NEWSET carries
 * NLM_F_EXCL (a list set never joins an existing set of its name), and the rule, the only one
 * of its batch, carries NLM_F_ECHO | NLM_F_ACK (handles are learned from the echo).
 */
import test from 'ava';
import { NLM_F_ACK, NLM_F_ECHO, NLM_F_EXCL, parseMessages } from '../../codecs/netlink/message.js';
import { decodeSet, decodeSetElems } from '../../codecs/nftables/set.js';
import { encode } from '../../src/index.js';
import { nftBatch } from '../helpers/fixtures.js';

const fixture = (name: string): { batch: string[] } => ({ batch: nftBatch(`set-${name}`) });
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
const flagsOf = (h: string): number => parseInt(h.slice(14, 16) + h.slice(12, 14), 16);
const withFlags = (h: string, f: number): string => h.slice(0, 12) + (f & 0xff).toString(16).padStart(2, '0') + (f >> 8).toString(16).padStart(2, '0') + h.slice(16);
const typeOf = (h: string): string => h.slice(8, 12);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const NEWSET = '090a', NEWSETELEM = '0c0a', NEWRULE = '060a';

/** pktmark's set, element and rule messages for `src`, normalized. */
function ours(src: string[]): string[] {
  return encode({ src, mark: 1 }).map(hex).map(norm).filter((h) => [NEWSET, NEWSETELEM, NEWRULE].includes(typeOf(h)));
}

for (const [name, src] of [['hash', ['10.0.0.2', '10.0.0.1', '10.0.0.1']], ['interval', ['10.1.2.3', '10.0.0.0/24', '10.0.0.0/25']]] as const) {
  test(`list rule (${name}): NEWSET, NEWSETELEM and the lookup NEWRULE equal nft's, but for the stated flags`, (t) => {
    const nft = fixture(`list-rule-${name}`).batch.map(norm).filter((h) => [NEWSET, NEWSETELEM, NEWRULE].includes(typeOf(h)));
    const mine = ours([...src]);
    t.deepEqual(mine.map(typeOf), [NEWSET, NEWSETELEM, NEWRULE]);
    // NEWSET: + NLM_F_EXCL
    t.is(flagsOf(mine[0]), flagsOf(nft[0]) | NLM_F_EXCL);
    t.is(withFlags(mine[0], flagsOf(nft[0])), nft[0]);
    // a hash set declares its size (nft's `size 48;`, set-size.ts), an interval set none
    t.deepEqual(decodeSet(parseMessages(Buffer.from(mine[0], 'hex'))[0]).desc, name === 'hash' ? { size: 48 } : undefined);
    // NEWRULE: + ECHO | ACK
    t.is(flagsOf(mine[2]), flagsOf(nft[nft.length - 1]) | NLM_F_ECHO | NLM_F_ACK);
    t.is(withFlags(mine[2], flagsOf(nft[nft.length - 1])), nft[nft.length - 1]);
    // the elements, byte for byte as nft's first NEWSETELEM
    t.is(mine[1], nft[1], 'NEWSETELEM, byte for byte');
    if (name === 'interval') {
      // nft 1.0.6 sends an interval set's ranges a second time, in a second NEWSETELEM without
      // the zero-key END (captured); the kernel holds them once either way, so pktmark sends one
      t.is(nft.length, 4);
      const elems = (h: string) => decodeSetElems(parseMessages(Buffer.from(h, 'hex'))[0]).elements;
      t.deepEqual(elems(nft[2]), elems(mine[1]).slice(1));
    } else t.is(nft.length, 3);
  });
}
