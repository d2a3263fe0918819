import test from 'ava';
import fc from 'fast-check';
import { AttributeReader, AttributeWriter, attr, nestedReader, NLA_F_NESTED } from '../../codecs/netlink/attributes.js';
import { decodeAck, parseMessages, writeMessage, NLMSG_ERROR, NLM_F_REQUEST, NLM_F_ACK } from '../../codecs/netlink/message.js';
import { PktmarkError } from '../../codecs/errors.js';
import { ackFor, doneFor } from '../../src/transport/fake.js';

test('attributes: header, 4-byte padding, byte orders, strings with NUL', (t) => {
  const w = new AttributeWriter(8);
  w.u8(1, 7);
  w.u16(2, 0x1234, 'be');
  w.u32(3, 0xdeadbeef);
  w.u64(4, 0x0102030405060708n, 'be');
  w.string(5, 'ab');
  const b = w.finish();
  t.is(b.length, 8 + 8 + 8 + 12 + 8);
  t.deepEqual([...b.subarray(0, 8)], [5, 0, 1, 0, 7, 0, 0, 0]);
  t.deepEqual([...b.subarray(12, 14)], [0x12, 0x34]);
  t.deepEqual([...b.subarray(20, 24)], [0xef, 0xbe, 0xad, 0xde]);
  const attrs = new AttributeReader(b).list();
  t.deepEqual(attrs.map((a) => a.type), [1, 2, 3, 4, 5]);
  t.is(attr.u16(attrs[1], 'be'), 0x1234);
  t.is(attr.u32(attrs[2]), 0xdeadbeef);
  t.is(attr.u64(attrs[3], 'be'), 0x0102030405060708n);
  t.is(attr.string(attrs[4]), 'ab');
  t.deepEqual([...attrs[4].data], [0x61, 0x62, 0]);
});

test('attributes: nesting sets NLA_F_NESTED unless told not to, and offsets are absolute', (t) => {
  const w = new AttributeWriter();
  w.nested(1, (w) => { w.u32(2, 5); w.nested(3, (w) => w.flag(4), false); });
  const b = w.finish();
  const outer = new AttributeReader(b).list();
  t.is(outer.length, 1);
  t.true(outer[0].nested);
  t.is(new DataView(b.buffer).getUint16(2, true), 1 | NLA_F_NESTED);
  const inner = nestedReader(outer[0]).list();
  t.deepEqual(inner.map((a) => [a.type, a.nested, a.offset]), [[2, false, 4], [3, false, 12]]);
});

test('attributes: sticky error thrown once by finish()', (t) => {
  const w = new AttributeWriter();
  w.u8(1, 300);
  w.u16(2, -1);
  const e = t.throws(() => w.finish(), { instanceOf: PktmarkError });
  t.is(e?.code, 'ENCODE');
  t.regex(e!.message, /u8 attribute 1/);
});

test('reader: bad lengths are DECODE errors with the byte offset, never a loop', (t) => {
  const zero = new Uint8Array([8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  const e = t.throws(() => new AttributeReader(zero, 100).list(), { instanceOf: PktmarkError });
  t.is(e?.code, 'DECODE');
  t.is(e?.offset, 108);
  const long = new Uint8Array([200, 0, 1, 0, 0, 0, 0, 0]);
  t.is(t.throws(() => new AttributeReader(long).list(), { instanceOf: PktmarkError })?.code, 'DECODE');
  const u32short = new AttributeReader(new Uint8Array([6, 0, 1, 0, 1, 2, 0, 0])).list()[0];
  t.throws(() => attr.u32(u32short), { instanceOf: PktmarkError });
});

test('property: any bytes into the readers throw only PktmarkError', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), (b) => {
    try { for (const m of parseMessages(b)) { if (m.header.type === NLMSG_ERROR) decodeAck(m); new AttributeReader(m.payload).list(); } } catch (e) { if (!(e instanceof PktmarkError)) throw e; }
    try { for (const a of new AttributeReader(b)) nestedReader(a).list(); } catch (e) { if (!(e instanceof PktmarkError)) throw e; }
  }), { numRuns: 3000 });
  t.pass();
});

test('property: attributes written are read back', (t) => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0x3fff }), fc.uint8Array({ maxLength: 40 }))), (xs) => {
    const w = new AttributeWriter(4);
    for (const [type, data] of xs) w.bytes(type, data);
    const back = new AttributeReader(w.finish()).list();
    return back.length === xs.length && back.every((a, i) => a.type === xs[i][0] && Buffer.compare(Buffer.from(a.data), Buffer.from(xs[i][1])) === 0);
  }));
  t.pass();
});

test('messages: framing and acks with extended ack text and offset', (t) => {
  const w = new AttributeWriter();
  writeMessage(w, 0xa00, NLM_F_REQUEST | NLM_F_ACK, 42, (w) => w.u32(1, 9));
  writeMessage(w, 0xa06, NLM_F_REQUEST, 43, () => {});
  const msgs = parseMessages(w.finish());
  t.deepEqual(msgs.map((m) => [m.header.len, m.header.type, m.header.flags, m.header.seq]), [[24, 0xa00, 5, 42], [16, 0xa06, 1, 43]]);
  const [err] = parseMessages(ackFor(msgs[0], 2, { message: 'No such table', offset: 20 }));
  const ack = decodeAck(err);
  t.is(ack.errno, 2);
  t.is(ack.extack, 'No such table');
  t.is(ack.extackOffset, 20);
  t.is(ack.request.seq, 42);
  t.is(decodeAck(parseMessages(ackFor(msgs[1]))[0]).errno, 0);
  t.is(parseMessages(doneFor(7))[0].header.type, 3);
});

test('messages: truncated header / length past end are DECODE errors', (t) => {
  t.is(t.throws(() => parseMessages(new Uint8Array(10)))?.message.includes('truncated'), true);
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, 64, true);
  t.throws(() => parseMessages(b), { instanceOf: PktmarkError, message: /runs past the end/ });
});

test('WriterPool: a reused buffer writes the same bytes as a fresh one (padding stays zero)', async (t) => {
  const { WriterPool } = await import('../../codecs/netlink/attributes.js');
  const pool = new WriterPool();
  const fill = (w: AttributeWriter): Uint8Array => { w.string(1, 'abcde'); w.u8(2, 7); w.nested(3, (w) => w.u16(4, 0xffff)); return w.finish().slice(); };
  const first = pool.take(256);
  first.bytes(9, new Uint8Array(200).fill(0xff)); // dirty the whole region, then give it back
  pool.give(first);
  const reused = pool.take(64);
  t.is(reused.backing, first.backing, 'the same buffer came back');
  t.deepEqual(fill(reused), fill(new AttributeWriter(64)));
  t.not(pool.take(64).backing, first.backing, 'while it is out, a second writer gets fresh memory');
});
