/**
 * Live: pktmark's own set batches through the project's netlink transport into a throwaway
 * namespace, with `nft -j list set` as the oracle. Root only (see liveTest: skipped with a
 * printed reason outside CI, a failure in CI).
 */
import type { ExecutionContext } from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { writeBatchBegin, writeBatchEnd } from '../../codecs/netlink/batch.js';
import { decodeAck, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST } from '../../codecs/netlink/message.js';
import { NFPROTO_INET } from '../../codecs/nftables/messages.js';
import {
  encodeSetUserdata, NFT_BYTEORDER_BIG_ENDIAN, NFT_DATATYPE, NFT_MSG_DELSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM,
  NFT_SET_INTERVAL, writeSet, writeSetElems,
} from '../../codecs/nftables/set.js';
import {
  formatRange, intervalDeleteElements, intervalElements, mergeRanges, parseAddressEntry, planAddressSet, subtractRanges, type KeyRange,
} from '../../codecs/nftables/set-intervals.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { NETLINK_NETFILTER } from '../../src/transport/transport.js';
import { liveTest, withNetns, type Netns } from '../helpers/netns.js';

const table = 'pktmark';
const family = NFPROTO_INET;

/** Send one batch built by `fill` (which returns the seq of the message carrying NLM_F_ACK) and require no error. */
async function sendBatch(t: ExecutionContext, ns: Netns, fill: (w: AttributeWriter, seq: () => number) => number): Promise<void> {
  const s = NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns: ns.name });
  try {
    const w = new AttributeWriter(1 << 20);
    const seq = () => s.nextSeq();
    writeBatchBegin(w, seq());
    const ackSeq = fill(w, seq);
    writeBatchEnd(w, seq());
    const replies = await s.exchange(w.finish(), { seq: ackSeq, until: 'ack' });
    const errors = replies.filter((m) => m.header.type === NLMSG_ERROR).map(decodeAck).filter((a) => a.errno !== 0);
    t.deepEqual(errors, [], 'the kernel accepted the whole batch');
  } finally { await s.close(); }
}

/** The set's elements as nft -j lists them, as ranges. */
function nftRanges(ns: Netns, set: string): KeyRange[] {
  const j = JSON.parse(ns.nft('-j', 'list', 'set', 'inet', table, set)) as { nftables: { set?: { elem?: unknown[] } }[] };
  const elems = j.nftables.find((x) => x.set)?.set?.elem ?? [];
  return elems.map((e) => {
    if (typeof e === 'string') return parseAddressEntry(e).range;
    const o = e as { prefix?: { addr: string; len: number }; range?: [string, string] };
    if (o.prefix) return parseAddressEntry(`${o.prefix.addr}/${o.prefix.len}`).range;
    if (o.range) return parseAddressEntry(`${o.range[0]}-${o.range[1]}`).range;
    throw new Error(`unexpected element ${JSON.stringify(e)}`);
  });
}

liveTest('live: a 10,000-entry interval set sent by pktmark (NEWSET + split NEWSETELEM in one batch) is what nft lists', async (t) => {
  await withNetns(async (ns) => {
    ns.nft('add', 'table', 'inet', table);
    // 10,000 entries: /30s every 8 addresses, one overlapping /29 and duplicates, one adjacent pair
    const entries = Array.from({ length: 9_990 }, (_, i) => {
      const a = 0x0a000000 + i * 8;
      return `${a >>> 24}.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}/30`;
    });
    entries.push('10.0.0.0/29', '10.0.0.0/30', '10.0.0.1', '10.0.0.4-10.0.0.6', '192.168.0.0/24', '192.168.1.0/24',
      '240.0.0.0/4', '172.16.0.1', '172.16.0.2', '172.16.0.3');
    t.is(entries.length, 10_000);
    const [plan] = planAddressSet(entries, { intoEmptySet: true });
    t.true(plan.interval);
    let parts = 0;
    await sendBatch(t, ns, (w, seq) => {
      writeSet(w, NFT_MSG_NEWSET, NLM_F_REQUEST | NLM_F_CREATE, seq(), {
        family, table, name: 'big', flags: NFT_SET_INTERVAL, keyType: NFT_DATATYPE.ipv4_addr, keyLen: 4, id: 1,
        userdata: encodeSetUserdata({ keyByteorder: NFT_BYTEORDER_BIG_ENDIAN }),
      });
      const last = seq();
      parts = writeSetElems(w, NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, last, { family, table, set: 'big', setId: 1, elements: plan.elements }, NLM_F_ACK);
      return last;
    });
    t.true(parts >= 5, `split into ${parts} NEWSETELEM messages`);
    const listed = nftRanges(ns, 'big');
    t.is(listed.length, plan.ranges.length);
    t.deepEqual(mergeRanges(listed).map((r) => formatRange(r, 'ip')), plan.ranges.map((r) => formatRange(r, 'ip')));
    // 10.0.0.0/29, 10.0.0.0/30, 10.0.0.1 and 10.0.0.4-6 overlap; the /29 ends where 10.0.0.8/30 starts
    t.true(listed.some((r) => formatRange(r, 'ip') === '10.0.0.0-10.0.0.11'), 'overlaps, duplicates and the adjacent /30 merged into one range');
    t.true(listed.some((r) => formatRange(r, 'ip') === '192.168.0.0/23'), 'adjacent /24s were joined');
  });
});

liveTest('live: deleting a stored pair, and removing one prefix from a merged range, in one batch each', async (t) => {
  await withNetns(async (ns) => {
    ns.nft('add', 'table', 'inet', table);
    ns.nft('add set inet pktmark i4 { type ipv4_addr; flags interval; elements = { 10.0.0.0/16, 192.168.0.0/24, 240.0.0.0/4 } }');
    const r = (s: string) => parseAddressEntry(s).range;
    // 1. delete the stored 192.168.0.0/24 and the open 240.0.0.0/4 (their exact pairs)
    await sendBatch(t, ns, (w, seq) => {
      const s = seq();
      writeSetElems(w, NFT_MSG_DELSETELEM, NLM_F_REQUEST, s, { family, table, set: 'i4', elements: intervalDeleteElements([r('192.168.0.0/24'), r('240.0.0.0/4')], 4) }, NLM_F_ACK);
      return s;
    });
    t.deepEqual(nftRanges(ns, 'i4').map((x) => formatRange(x, 'ip')), ['10.0.0.0/16']);
    // 2. take 10.0.1.0/24 out of the stored 10.0.0.0/16: delete its pair, add what remains
    const keep = subtractRanges([r('10.0.0.0/16')], [r('10.0.1.0/24')]);
    await sendBatch(t, ns, (w, seq) => {
      writeSetElems(w, NFT_MSG_DELSETELEM, NLM_F_REQUEST, seq(), { family, table, set: 'i4', elements: intervalDeleteElements([r('10.0.0.0/16')], 4) });
      const s = seq();
      writeSetElems(w, NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, s, { family, table, set: 'i4', elements: intervalElements(keep, 4, { intoEmptySet: false }) }, NLM_F_ACK);
      return s;
    });
    t.deepEqual(nftRanges(ns, 'i4').map((x) => formatRange(x, 'ip')).sort(), ['10.0.0.0/24', '10.0.2.0-10.0.255.255'].sort());
  });
});
