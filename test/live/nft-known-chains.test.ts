/**
 * An add leaves out the NEWCHAIN of a chain the kernel already has (src/backends/nft/known-chains.ts):
 * re-declaring it makes the kernel keep a chain-update transaction for an RCU grace period, which
 * the socket's close then waits for. Recorded against the real kernel: which batches declare which
 * chains, and that a chain deleted behind pktmark's back is declared again, nothing half-applied.
 */
import { Marker } from '../../src/index.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { decodeChain, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import type { NetlinkProtocol, Transport } from '../../src/transport/transport.js';
import { liveTest, withNetns } from '../helpers/netns.js';
import { intercepted } from '../helpers/intercept.js';

/** Real sockets in `netns`, with the chains each sent batch declares (one entry per batch that adds rules). */
function recording(netns: string): { factory: (p: NetlinkProtocol) => Transport; batches: string[][] } {
  const batches: string[][] = [];
  const factory = intercepted(netns, {
    send(bytes) {
      const msgs = parseMessages(bytes);
      if (msgs.some((m) => m.header.type === nftType(NFT_MSG_NEWRULE))) {
        batches.push(msgs.filter((m) => m.header.type === nftType(NFT_MSG_NEWCHAIN)).map((m) => decodeChain(m).name));
      }
    },
  });
  return { factory, batches };
}

liveTest('nft: chains the kernel has are not declared again, by this Marker or by a new one (a chain dump)', async (t) => {
  await withNetns(async (ns) => {
    const rec = recording(ns.name);
    const m = await Marker.open({ transport: rec.factory });
    const m2 = await Marker.open({ transport: rec.factory });
    try {
      await m.add({ src: '10.0.0.1', mark: 1 });
      await m.add([{ src: '10.0.0.2', mark: 2 }, { hook: 'output', dst: '10.0.0.3', mark: 3 }]);
      await m.add({ table: 'mangle', chain: 'FOO', src: '10.0.0.4', mark: 4 });
      await m.add({ table: 'mangle', chain: 'FOO', src: '10.0.0.5', mark: 5 });
      await m2.add({ src: '10.0.0.6', mark: 6 });
      t.deepEqual(rec.batches, [['prerouting'], ['output'], ['mangle.FOO'], [], []]);
      const list = ns.nft('list', 'ruleset');
      for (let i = 1; i <= 6; i++) t.regex(list, new RegExp(`10\\.0\\.0\\.${i} .*mark set 0x0000000${i}`));
      t.deepEqual((await m.list()).map((r) => Number(r.rule?.mark)).sort(), [1, 2, 3, 4, 5, 6]);
    } finally { await m.close(); await m2.close(); }
  });
});

liveTest('nft: a chain deleted by another writer is declared again: the refused batch applied nothing, the add succeeds', async (t) => {
  await withNetns(async (ns) => {
    const rec = recording(ns.name);
    const m = await Marker.open({ transport: rec.factory });
    try {
      const a = await m.add({ src: '10.0.0.1', mark: 1 });
      await m.delete(a.id);
      ns.nft('delete', 'chain', 'inet', 'pktmark', 'prerouting');
      const b = await m.add([{ src: '10.0.0.2', mark: 2 }, { src: '10.0.0.3', mark: 3 }]);
      t.deepEqual(rec.batches, [['prerouting'], [], ['prerouting']]);
      t.deepEqual((await m.list()).map((r) => r.id), b.map((r) => r.id));
      t.regex(ns.nft('list', 'chain', 'inet', 'pktmark', 'prerouting'), /hook prerouting priority raw/);
    } finally { await m.close(); }
  });
});
