/**
 * A Marker on pktmark/testing's FakeNftKernel, and what it sent: the message kinds of the
 * batches since the last look (GET requests left out), for tests that assert a batch's shape.
 */
import { NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM } from '../../codecs/nftables/set.js';
import { Marker } from '../../src/index.js';
import { FakeNftKernel } from '../../src/testing/index.js';

const T = (n: number): number => nftType(n);
const NAMES: Record<number, string> = {
  [T(NFT_MSG_NEWSET)]: 'NEWSET', [T(NFT_MSG_NEWSETELEM)]: 'NEWSETELEM', [T(NFT_MSG_DELSETELEM)]: 'DELSETELEM',
  [T(NFT_MSG_DELSET)]: 'DELSET', [T(NFT_MSG_NEWRULE)]: 'NEWRULE', [T(NFT_MSG_DELRULE)]: 'DELRULE',
};

export async function fakeMarker(): Promise<{ k: FakeNftKernel; m: Marker; sent: () => string[] }> {
  const k = new FakeNftKernel();
  const m = await Marker.open({ transport: k.factory });
  let mark = 0;
  const sent = (): string[] => { const out = k.requests.slice(mark).map((r) => NAMES[r.header.type]).filter((x): x is string => x !== undefined); mark = k.requests.length; return out; };
  return { k, m, sent };
}
