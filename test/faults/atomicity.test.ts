/**
 * Atomicity under faults: a batch the kernel refuses at its last rule leaves nothing; a
 * transport that dies mid-operation gives a clear error and the Marker recovers with a new one;
 * a kernel that never answers ends in TIMEOUT, not a hang.
 */
import test from 'ava';
import { writeBatchBegin, writeBatchEnd } from '../../codecs/netlink/batch.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { parseMessages, NLMSG_HDRLEN } from '../../codecs/netlink/message.js';
import { NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { PktmarkError } from '../../codecs/errors.js';
import { Marker } from '../../src/index.js';
import { ackFor, FakeTransport } from '../../src/transport/fake.js';
import { NETLINK_NETFILTER, type NetlinkProtocol, type Transport } from '../../src/transport/transport.js';
import { liveTest, withNetns } from '../helpers/netns.js';

/** Rewrites the expression name "counter" in the last NEWRULE of a batch to one no kernel has. */
function spoilLastRule(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const rules = parseMessages(out).filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE));
  const last = rules.at(-1);
  if (!last) return out;
  const start = last.offset, end = last.offset + last.header.len;
  const needle = new TextEncoder().encode('counter\0');
  for (let i = start + NLMSG_HDRLEN; i + needle.length <= end; i++) {
    if (needle.every((c, k) => out[i + k] === c)) { out[i + 6] = 0x7a; break; } // "countez"
  }
  return out;
}

liveTest('faults: a 1,000-rule add whose last rule the kernel refuses leaves none of them, and names rule 999', async (t) => {
  await withNetns(async (ns) => {
    const before = ns.nft('-j', 'list', 'ruleset');
    const { NetlinkSocket } = await import('../../src/transport/netlink-socket.js');
    const spoiling = async (protocol: NetlinkProtocol): Promise<Transport> => {
      const real = await NetlinkSocket.open({ protocol, netns: ns.path });
      return { protocol, nextSeq: () => real.nextSeq(), close: () => real.close(), exchange: (b, w) => real.exchange(protocol === NETLINK_NETFILTER ? spoilLastRule(b) : b, w) };
    };
    const m = await Marker.open({ transport: spoiling });
    const rules = Array.from({ length: 1000 }, (_, i) => ({ src: `10.9.${i >> 8}.${i & 255}`, mark: 7 }));
    const e = await t.throwsAsync(m.add(rules), { instanceOf: PktmarkError });
    await m.close();
    t.is(e?.messageIndex, 999, e?.message);
    t.is(e?.code, 'KERNEL');
    t.is(ns.nft('-j', 'list', 'ruleset'), before, 'the kernel holds nothing of the batch: no table, chain or rule');
  });
});

test('faults: a transport that dies mid-operation is a clear CLOSED error; the next call gets a fresh transport', async (t) => {
  let opened = 0;
  const factory = (): Transport => {
    const n = ++opened;
    let exchanges = 0;
    // the first transport answers one request (no table yet), then dies; later ones keep answering
    return new FakeTransport(NETLINK_NETFILTER, (reqs) => {
      if (n === 1 && ++exchanges > 1) throw new PktmarkError('CLOSED', 'the socket was closed under us');
      return [ackFor(reqs[0], 2)];
    });
  };
  const m = await Marker.open({ transport: factory });
  const e = await t.throwsAsync(m.add({ src: '10.0.0.1', mark: 1 }), { instanceOf: PktmarkError });
  t.is(e?.code, 'CLOSED');
  t.deepEqual(await m.list({ via: 'nft' }), [], 'the Marker asks the kernel again instead of reusing the dead transport');
  t.is(opened, 2);
  await m.close();
});

liveTest('faults: a kernel that never answers ends in TIMEOUT within the bound, not a hang', async (t) => {
  const { NetlinkSocket } = await import('../../src/transport/netlink-socket.js');
  await withNetns(async (ns) => {
    const s = await NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: ns.path, timeoutMs: 300 });
    // an empty batch asks for no ack: nf_tables answers nothing, so the wait can only time out
    const w = new AttributeWriter(64);
    const seq = s.nextSeq();
    writeBatchBegin(w, seq);
    writeBatchEnd(w, s.nextSeq());
    const t0 = Date.now();
    const e = await t.throwsAsync(s.exchange(w.finish(), { seq, until: 'ack' }), { instanceOf: PktmarkError });
    t.is(e?.code, 'TIMEOUT');
    t.true(Date.now() - t0 < 3000, `gave up after ${Date.now() - t0} ms`);
    await s.close();
  });
});
