/**
 * Golden bytes for sets: pktmark's NEWSET / NEWSETELEM / DELSETELEM / DELSET / GETSET /
 * GETSETELEM and lookup rules against what the real nft 1.0.6 sent (fixtures/nft/set-*.json,
 * made by fixtures/capture-nft-sets.sh). Whole messages are compared — header, type, flags,
 * nfgenmsg, every attribute in order — after zeroing only the sequence number and port id.
 * These are codec-level tests: the messages are written with nft's own flags, and the element
 * lists come from pktmark's interval helpers, not from the fixture.
 */
import test from 'ava';
import { batchOf, loadFixture, type Fixture as SchemaFixture } from '../helpers/fixtures.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { writeBatchBegin, writeBatchEnd } from '../../codecs/netlink/batch.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REQUEST, parseMessages } from '../../codecs/netlink/message.js';
import type { Expr } from '../../codecs/nftables/expr/index.js';
import { NFT_LOOKUP_F_INV } from '../../codecs/nftables/expr/lookup.js';
import { NFPROTO_INET, NFT_MSG_NEWRULE, writeRule } from '../../codecs/nftables/messages.js';
import {
  decodeSet, decodeSetElems, encodeSetUserdata, NFT_BYTEORDER_BIG_ENDIAN, NFT_DATATYPE, NFT_MSG_DELSET, NFT_MSG_DELSETELEM,
  NFT_MSG_GETSET, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, NFT_SET_ANONYMOUS, NFT_SET_CONSTANT, NFT_SET_INTERVAL,
  NFT_SET_POL_MEMORY, writeSet, writeSetElemDump, writeSetElems, type NftSet, type NftSetElem, type NftSetElemList,
} from '../../codecs/nftables/set.js';
import {
  formatRange, hashElements, intervalDeleteElements, intervalElements, intervalRanges, parseAddressEntry, planAddressSet,
} from '../../codecs/nftables/set-intervals.js';

/** a set capture (schema 1: test/helpers/fixtures.ts), with its one run's batch and its sent and received messages */
function fixture(name: string): SchemaFixture & { command: readonly string[]; batch: string[]; buffers: { dir: string; messages: readonly string[] }[] } {
  const f = loadFixture('nft', `set-${name}`);
  const run = f.runs[0];
  return { ...f, command: run.command, batch: batchOf(run), buffers: [{ dir: 'sent', messages: run.messages }, { dir: 'received', messages: run.replies ?? [] }] };
}
const NAMES = [
  'hash-v4', 'interval-v4', 'interval-v4-edges', 'interval-v4-range', 'interval-v6', 'hash-v4-policy', 'hash-v6',
  'elem-add-interval', 'elem-delete-interval', 'elem-delete-open', 'elem-delete-hash', 'delete-set', 'list-set',
  'lookup', 'lookup-negated', 'anon-ports', 'anon-port-intervals', 'split-hash-v4',
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** zero seq and port id */
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
/** pktmark's messages, one hex string each, normalized */
function encode(fill: (w: AttributeWriter) => void): string[] {
  const w = new AttributeWriter();
  fill(w);
  return parseMessages(w.finish()).map((m) => norm(hex(w.finish().subarray(m.offset, m.offset + m.header.len))));
}

const CREATE = NLM_F_REQUEST | NLM_F_CREATE;
const table = 'pktmark';
const family = NFPROTO_INET;
const BE = encodeSetUserdata({ keyByteorder: NFT_BYTEORDER_BIG_ENDIAN });
/** nft's first set in a process gets id 1; it names it on NEWSET, NEWSETELEM and the lookup */
const ID = 1;

function namedSet(name: string, keyType: number, keyLen: number, flags: number, more: Partial<NftSet> = {}): NftSet {
  return { family, table, name, flags, keyType, keyLen, id: ID, ...more, userdata: BE };
}
function elems(set: string, elements: readonly NftSetElem[], setId?: number): NftSetElemList {
  return setId === undefined ? { family, table, set, elements } : { family, table, set, setId, elements };
}
const plan = (entries: string[], intoEmptySet: boolean): readonly NftSetElem[] => {
  const p = planAddressSet(entries, { intoEmptySet });
  if (p.length !== 1) throw new Error('one family expected');
  return p[0].elements;
};
const ranges = (entries: string[]) => entries.map((e) => parseAddressEntry(e).range);

test('every set fixture was made by nft 1.0.6 and records its command, setup (in its note) and kernel', (t) => {
  for (const n of NAMES) {
    const f = fixture(n);
    t.is(f.name, `set-${n}`);
    t.regex(f.toolVersion, /^nftables v1\.0\.6/, n);
    t.is(f.command[0], '/usr/sbin/nft', n);
    t.true(f.command.length > 1 && f.kernel.length > 0, n);
    if (n !== 'list-set') t.is(f.batch[0].slice(8, 12), '1000', `${n}: batch starts with BATCH_BEGIN`);
  }
});

test('hash set of /32s: BATCH_BEGIN, NEWSET, NEWSETELEM, BATCH_END equal nft add set + add element', (t) => {
  const f = fixture('hash-v4');
  const ours = encode((w) => {
    writeBatchBegin(w, 1);
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('s4', NFT_DATATYPE.ipv4_addr, 4, 0));
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('s4', plan(['10.0.0.1', '10.0.0.2', '10.0.0.3'], true), ID));
    writeBatchEnd(w, 4);
  });
  t.deepEqual(ours, f.batch.map(norm));
});

test('interval set with prefixes and an address: a leading zero-key END, then start/END pairs', (t) => {
  const f = fixture('interval-v4');
  const entries = ['10.0.0.0/24', '192.168.0.0/16', '10.1.2.3'];
  const ours = encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('i4', NFT_DATATYPE.ipv4_addr, 4, NFT_SET_INTERVAL));
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('i4', plan(entries, true), ID));
  });
  t.is(ours[0], norm(f.batch[1]), 'NEWSET flags interval');
  t.is(ours[1], norm(f.batch[2]), 'NEWSETELEM into the new (empty) set: zero-key END leads');
  // nft quirk: with `add set` and `add element` in one batch it sends the elements twice — once
  // as the new set's contents (above) and once for the element command, without the zero END
  // (the set is no longer empty by then). The kernel ignores the repeat (no NLM_F_EXCL).
  t.is(f.batch.length, 5);
  t.is(encode((w) => writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('i4', plan(entries, false), ID)))[0], norm(f.batch[3]));
});

test('interval set from 0.0.0.0 to 255.255.255.255: no zero-key END, no END at the top (INTERVAL_OPEN userdata)', (t) => {
  const f = fixture('interval-v4-edges');
  const el = plan(['0.0.0.0/8', '10.0.0.0/8', '240.0.0.0/4'], true);
  t.is(el.length, 5);
  const ours = encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('z4', NFT_DATATYPE.ipv4_addr, 4, NFT_SET_INTERVAL));
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('z4', el, ID));
  });
  t.deepEqual(ours, f.batch.slice(1, 3).map(norm));
  t.is(norm(f.batch[3]), ours[1], 'the repeated element command is the same list (no zero END either way)');
});

test('address ranges a-b, a one-address range, and a range to the top', (t) => {
  const f = fixture('interval-v4-range');
  const ours = encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('r4', NFT_DATATYPE.ipv4_addr, 4, NFT_SET_INTERVAL));
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('r4', plan(['10.0.0.5-10.0.0.9', '10.0.0.20-10.0.0.20', '192.168.1.0-255.255.255.255'], true), ID));
  });
  t.deepEqual(ours, f.batch.slice(1, 3).map(norm));
});

test('ipv6 interval set and ipv6 hash set', (t) => {
  const i6 = fixture('interval-v6');
  t.deepEqual(encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('i6', NFT_DATATYPE.ipv6_addr, 16, NFT_SET_INTERVAL));
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('i6', plan(['2001:db8::/32', 'fd00::1', 'ff00::/8'], true), ID));
  }), i6.batch.slice(1, 3).map(norm));
  const s6 = fixture('hash-v6');
  t.deepEqual(encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('s6', NFT_DATATYPE.ipv6_addr, 16, 0));
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('s6', plan(['fd00::1', 'fd00::2'], true), ID));
  }), s6.batch.slice(1, 3).map(norm));
});

test('size and policy: ID, POLICY, DESC { SIZE }, USERDATA in nft order', (t) => {
  const f = fixture('hash-v4-policy');
  const ours = encode((w) => writeSet(w, NFT_MSG_NEWSET, CREATE, 2,
    namedSet('p4', NFT_DATATYPE.ipv4_addr, 4, 0, { policy: NFT_SET_POL_MEMORY, desc: { size: 65536 } })));
  t.deepEqual(ours, [norm(f.batch[1])]);
});

test('adding to a set that has elements: sorted pairs, no zero-key END', (t) => {
  const f = fixture('elem-add-interval');
  // nft sends its set id on NEWSETELEM even for an existing set
  const ours = encode((w) => writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3,
    elems('i4', intervalElements(ranges(['172.16.0.0/12', '10.0.1.0/24']), 4, { intoEmptySet: false }), ID)));
  t.deepEqual(ours, [norm(f.batch[1])]);
});

test('deleting a stored prefix repeats its pair; an open range its start with userdata; a hash element its key', (t) => {
  const del = (set: string, e: readonly NftSetElem[]) => encode((w) => writeSetElems(w, NFT_MSG_DELSETELEM, NLM_F_REQUEST, 3, elems(set, e)));
  t.deepEqual(del('i4', intervalDeleteElements(ranges(['10.0.0.0/24']), 4)), [norm(fixture('elem-delete-interval').batch[1])]);
  t.deepEqual(del('z4', intervalDeleteElements(ranges(['240.0.0.0/4']), 4)), [norm(fixture('elem-delete-open').batch[1])]);
  t.deepEqual(del('s4', hashElements([parseAddressEntry('10.0.0.2').range.first], 4)), [norm(fixture('elem-delete-hash').batch[1])]);
});

test('DELSET by name', (t) => {
  const ours = encode((w) => writeSet(w, NFT_MSG_DELSET, NLM_F_REQUEST, 2, { family, table, name: 's4' }));
  t.deepEqual(ours, [norm(fixture('delete-set').batch[1])]);
});

test('nft list set: GETSET and the GETSETELEM dump request; the kernel replies decode to the set nft listed', (t) => {
  const f = fixture('list-set');
  const sent = f.buffers.filter((b) => b.dir === 'sent').flatMap((b) => b.messages).map(norm);
  const get = encode((w) => writeSet(w, NFT_MSG_GETSET, NLM_F_REQUEST | NLM_F_ACK, 1, { family, table, name: 'i4' }));
  const dump = encode((w) => writeSetElemDump(w, NLM_F_REQUEST | NLM_F_DUMP, 1, family, table, 'i4'));
  t.true(sent.includes(get[0]), 'GETSET, NLM_F_REQUEST|NLM_F_ACK');
  t.true(sent.includes(dump[0]), 'GETSETELEM NLM_F_DUMP, SET before TABLE');

  const received = f.buffers.filter((b) => b.dir === 'received').flatMap((b) => b.messages).map((h) => parseMessages(Uint8Array.from(Buffer.from(h, 'hex')))[0]);
  const setMsg = received.find((m) => m.header.type === 0x0a09)!;
  const s = decodeSet(setMsg);
  t.like(s, { family, table, name: 'i4', flags: NFT_SET_INTERVAL, keyType: NFT_DATATYPE.ipv4_addr, keyLen: 4, handle: 3n });
  t.deepEqual(s.userdata, BE);
  t.deepEqual(s.desc, {}, 'the kernel dumps an empty NFTA_SET_DESC');
  // NFTA_SET_COUNT: 7 elements stored, reported as 3 (an interval set's count is halved for user
  // space, nft_set_userspace_size), after NFTA_SET_TYPE (kept raw)
  t.is(s.count, 3);
  t.deepEqual(s.extra?.map((x) => x.type), [19]);
  const lists = received.filter((m) => m.header.type === 0x0a0c).map(decodeSetElems);
  const all = lists.flatMap((l) => l.elements);
  t.is(all.length, 7, 'the zero-key END and three pairs, in descending order');
  t.deepEqual(intervalRanges(all, 4).map((r) => formatRange(r, 'ip')), ['10.0.0.0/24', '10.1.2.3', '192.168.0.0/16']);
  // and they are the elements pktmark would send, in the kernel's (reverse) order
  t.deepEqual([...all].reverse(), [...plan(['10.0.0.0/24', '192.168.0.0/16', '10.1.2.3'], true)]);
});

const ruleHead: Expr[] = [
  { kind: 'meta', key: 15, dreg: 1 }, // meta nfproto
  { kind: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(2) }, // == ipv4
  { kind: 'payload', dreg: 1, base: 1, offset: 12, len: 4 }, // ip saddr
];
const markTail = (mark: number): Expr[] => {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, mark, true); // meta mark is host-endian
  return [{ kind: 'counter' }, { kind: 'immediate', dreg: 1, value: v }, { kind: 'meta', key: 3, sreg: 1 }];
};
const RULE_FLAGS = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND;

test('named-set lookup: SREG, SET (name), SET_ID; negated: FLAGS = NFT_LOOKUP_F_INV', (t) => {
  for (const [name, flags] of [['lookup', undefined], ['lookup-negated', NFT_LOOKUP_F_INV]] as const) {
    const lookup: Expr = flags === undefined
      ? { kind: 'lookup', sreg: 1, set: 's4', setId: ID }
      : { kind: 'lookup', sreg: 1, set: 's4', setId: ID, flags };
    const ours = encode((w) => writeRule(w, NFT_MSG_NEWRULE, RULE_FLAGS, 2, {
      family, table, chain: 'prerouting', exprs: [...ruleHead, lookup, ...markTail(0xdeadbeef)],
    }));
    t.deepEqual(ours, [norm(fixture(name).batch[1])], name);
  }
});

const tcpDport: Expr[] = [
  { kind: 'meta', key: 16, dreg: 1 }, // meta l4proto
  { kind: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(6) },
  { kind: 'payload', dreg: 1, base: 2, offset: 2, len: 2 }, // th dport
];
/** tcp dport as nft's typeof record: proto_desc tcp = 8, TCPHDR_DPORT = 2 */
const TCP_DPORT = { desc: 8, field: 2 };

test('anonymous port set: NEWSET (__set%d, anonymous|constant, DESC size), NEWSETELEM, NEWRULE looking it up by name and id', (t) => {
  const f = fixture('anon-ports');
  const elements = hashElements([80n, 443n], 2);
  const ours = encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, {
      family, table, name: '__set%d', flags: NFT_SET_ANONYMOUS | NFT_SET_CONSTANT, keyType: NFT_DATATYPE.inet_service, keyLen: 2,
      id: ID, desc: { size: elements.length }, userdata: encodeSetUserdata({ keyByteorder: NFT_BYTEORDER_BIG_ENDIAN, keyTypeof: TCP_DPORT }),
    });
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('__set%d', elements, ID));
    writeRule(w, NFT_MSG_NEWRULE, RULE_FLAGS, 4, {
      family, table, chain: 'prerouting', exprs: [...tcpDport, { kind: 'lookup', sreg: 1, set: '__set%d', setId: ID }, ...markTail(1)],
    });
  });
  t.deepEqual(ours, f.batch.slice(1, 4).map(norm));
});

test('anonymous interval port set { 1-1023, 8080 }: zero-key END, pairs, DESC size = elements sent, merge-elements userdata', (t) => {
  const f = fixture('anon-port-intervals');
  const elements = intervalElements([{ first: 1n, last: 1023n }, { first: 8080n, last: 8080n }], 2, { intoEmptySet: true });
  t.is(elements.length, 5);
  const ours = encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, {
      family, table, name: '__set%d', flags: NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL, keyType: NFT_DATATYPE.inet_service, keyLen: 2,
      id: ID, desc: { size: elements.length },
      userdata: encodeSetUserdata({ keyByteorder: NFT_BYTEORDER_BIG_ENDIAN, mergeElements: true, keyTypeof: TCP_DPORT }),
    });
    writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('__set%d', elements, ID));
    writeRule(w, NFT_MSG_NEWRULE, RULE_FLAGS, 4, {
      family, table, chain: 'prerouting', exprs: [...tcpDport, { kind: 'lookup', sreg: 1, set: '__set%d', setId: ID }, ...markTail(1)],
    });
  });
  t.deepEqual(ours, f.batch.slice(1, 4).map(norm));
});

test('4,100 elements: split into two NEWSETELEM messages exactly where nft splits, nest numbering included', (t) => {
  const f = fixture('split-hash-v4');
  const entries = Array.from({ length: 4100 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
  const ours = encode((w) => {
    writeSet(w, NFT_MSG_NEWSET, CREATE, 2, namedSet('big', NFT_DATATYPE.ipv4_addr, 4, 0));
    t.is(writeSetElems(w, NFT_MSG_NEWSETELEM, CREATE, 3, elems('big', plan(entries, true), ID)), 2);
  });
  t.is(f.batch.length, 5);
  t.is(ours.length, 3);
  t.is(ours[0], norm(f.batch[1]));
  t.is(ours[1].length, norm(f.batch[2]).length, 'first NEWSETELEM: 65,572 bytes');
  t.is(ours[1], norm(f.batch[2]));
  t.is(ours[2], norm(f.batch[3]));
});
