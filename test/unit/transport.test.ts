import test from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_DUMP_INTR, NLM_F_MULTI, parseMessages, writeMessage, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { PktmarkError } from '../../codecs/errors.js';
import { retryInterruptedDump, DUMP_RETRIES } from '../../src/transport/netlink-socket.js';
import { resolveNetnsPath } from '../../src/transport/netns.js';
import { FakeTransport, RecordingTransport, ackFor, doneFor } from '../../src/transport/fake.js';

function dumpReply(seq: number, interrupted: boolean): NetlinkMessage[] {
  const w = new AttributeWriter();
  writeMessage(w, 100, NLM_F_MULTI | (interrupted ? NLM_F_DUMP_INTR : 0), seq, (w) => w.u32(1, 7));
  return [...parseMessages(w.finish()), ...parseMessages(doneFor(seq))];
}

test('an interrupted dump is asked again until it is consistent', async (t) => {
  let calls = 0;
  const out = await retryInterruptedDump(async () => dumpReply(5, ++calls < 3), { seq: 5, until: 'done' });
  t.is(calls, 3);
  t.is(out[0].header.flags & NLM_F_DUMP_INTR, 0);
});

test('a dump that keeps changing is BUSY after a bounded number of tries', async (t) => {
  let calls = 0;
  const e = await t.throwsAsync(retryInterruptedDump(async () => { calls++; return dumpReply(5, true); }, { seq: 5, until: 'done' }), { instanceOf: PktmarkError });
  t.is(e?.code, 'BUSY');
  t.is(calls, DUMP_RETRIES + 1);
});

test('acks are never retried', async (t) => {
  let calls = 0;
  await retryInterruptedDump(async () => { calls++; return dumpReply(5, true); }, { seq: 5, until: 'ack' });
  t.is(calls, 1);
});

test('netns targets: name, path, pid; bad ones are INVALID_NETNS', (t) => {
  t.is(resolveNetnsPath('blue'), '/run/netns/blue');
  t.is(resolveNetnsPath('/proc/1/ns/net'), '/proc/1/ns/net');
  t.is(resolveNetnsPath(42), '/proc/42/ns/net');
  t.is(resolveNetnsPath('42'), '/proc/42/ns/net');
  for (const bad of ['', '..', 0, -3]) t.is(t.throws(() => resolveNetnsPath(bad as string), { instanceOf: PktmarkError })?.code, 'INVALID_NETNS');
});

test('recording then replaying gives the same replies', async (t) => {
  const fake = new FakeTransport(12, (reqs) => reqs.map((r) => ackFor(r, r.header.seq === 2 ? 17 : 0, { message: 'File exists' })));
  const rec = new RecordingTransport(fake);
  const w = new AttributeWriter();
  writeMessage(w, 0xa00, 5, 1, () => {});
  writeMessage(w, 0xa00, 5, 2, () => {});
  const first = await rec.exchange(w.finish(), { seq: 2, until: 'ack' });
  const replay = FakeTransport.replay(12, rec.recording);
  const again = await replay.exchange(w.finish(), { seq: 2, until: 'ack' });
  t.deepEqual(again.map((m) => [m.header.seq, [...m.payload]]), first.map((m) => [m.header.seq, [...m.payload]]));
  await t.throwsAsync(replay.exchange(w.finish(), { seq: 2, until: 'ack' }), { instanceOf: PktmarkError });
});
