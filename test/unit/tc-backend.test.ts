/** The tc backend against a fake kernel (no root): rollback order and error mapping. */
import test from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { writeMessage, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { ifinfomsg, IFLA_IFNAME } from '../../codecs/tc/link.js';
import { RTM_DELQDISC, RTM_DELTFILTER, RTM_GETLINK, RTM_GETQDISC, RTM_GETTFILTER, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER } from '../../codecs/tc/constants.js';
import { FakeTransport, ackFor, doneFor } from '../../src/transport/fake.js';
import { tcBackend } from '../../src/backends/tc/index.js';
import { normalizeRule } from '../../src/normalize.js';
import type { BackendContext } from '../../src/backends/backend.js';
import { PktmarkError } from '../../src/errors.js';

function newLink(seq: number, index: number, name: string): Uint8Array {
  const w = new AttributeWriter();
  writeMessage(w, RTM_NEWLINK, 0, seq, () => { w.struct(ifinfomsg, { family: 0, type: 1, index, flags: 0, change: 0 }); w.string(IFLA_IFNAME, name); });
  return w.finish();
}

/** A scripted rtnetlink for one device eth0 (ifindex 4) with no qdisc; `filter` answers RTM_NEWTFILTER, `extra` anything else. */
function fakeKernel(types: number[], filter: (r: NetlinkMessage) => Uint8Array[], extra: (r: NetlinkMessage) => Uint8Array[] | undefined = () => undefined): FakeTransport {
  return new FakeTransport(0, (reqs) => {
    const r = reqs[0];
    types.push(r.header.type);
    switch (r.header.type) {
      case RTM_GETLINK: return [newLink(r.header.seq, 4, 'eth0'), ackFor(r)];
      case RTM_GETQDISC: return [doneFor(r.header.seq)];
      case RTM_NEWQDISC: return [ackFor(r)];
      case RTM_NEWTFILTER: return filter(r);
      case RTM_DELQDISC: return [ackFor(r)];
      default: return extra(r) ?? [ackFor(r, 95)];
    }
  });
}

test('qdisc created, filter refused (no act_skbedit) → qdisc removed, ACTION_UNAVAILABLE with ext-ack and hint', async (t) => {
  const types: number[] = [];
  const fake = fakeKernel(types, (r) => [ackFor(r, 2, { message: 'Failed to load TC action module' })]);
  const ctx: BackendContext = { table: 'pktmark', transport: async () => fake, bpf: () => Promise.reject(new Error('this test has no bpf()')) };
  const e = await t.throwsAsync(tcBackend.add([normalizeRule({ via: 'tc', dev: 'eth0', src: '10.0.0.1', mark: 0xdeadbeef })], ctx), { instanceOf: PktmarkError });
  t.is(e?.code, 'ACTION_UNAVAILABLE');
  t.is(e?.errno, 2);
  t.is(e?.extack, 'Failed to load TC action module');
  t.regex(e?.hint ?? '', /via: 'nft'.*via: 'bpf'/);
  t.deepEqual(types, [RTM_GETLINK, RTM_GETQDISC, RTM_NEWQDISC, RTM_NEWTFILTER, RTM_DELQDISC]);
});

test('a missing device is NOT_FOUND before anything is created', async (t) => {
  const types: number[] = [];
  const fake = new FakeTransport(0, (reqs) => { types.push(reqs[0].header.type); return [ackFor(reqs[0], 19)]; });
  const e = await t.throwsAsync(tcBackend.add([normalizeRule({ via: 'tc', dev: 'nope0', mark: 1 })], { table: 'pktmark', transport: async () => fake, bpf: () => Promise.reject(new Error('this test has no bpf()')) }));
  t.like(e, { code: 'NOT_FOUND', field: 'dev' });
  t.deepEqual(types, [RTM_GETLINK]);
});

test('unsupported rules are refused before anything is sent', async (t) => {
  const fake = new FakeTransport(0, () => { t.fail('nothing may be sent'); return []; });
  const e = await t.throwsAsync(tcBackend.add([normalizeRule({ via: 'tc', dev: 'eth0', src: '!10.0.0.1', mark: 1 })], { table: 'pktmark', transport: async () => fake, bpf: () => Promise.reject(new Error('this test has no bpf()')) }));
  t.like(e, { code: 'UNSUPPORTED', field: 'src' });
  t.is(fake.sent.length, 0);
});

test('the filter exchange fails (timeout): filters the kernel did take are found by a dump and removed, then the qdisc', async (t) => {
  const types: number[] = [];
  let kernelHasFilter = false;
  let taken: Uint8Array | undefined; // the NEWTFILTER payload the kernel "applied"
  const dumpEntry = (seq: number): Uint8Array => {
    const w = new AttributeWriter();
    writeMessage(w, RTM_NEWTFILTER, 2 /* NLM_F_MULTI */, seq, (w) => w.raw(taken!));
    return w.finish();
  };
  const fake = fakeKernel(types, (r) => { kernelHasFilter = true; taken = r.payload.slice(); throw new PktmarkError('TIMEOUT', 'no answer from the kernel'); }, (r) => {
    if (r.header.type === RTM_GETTFILTER) return kernelHasFilter ? [dumpEntry(r.header.seq), doneFor(r.header.seq)] : [doneFor(r.header.seq)];
    if (r.header.type === RTM_DELTFILTER) { kernelHasFilter = false; return [ackFor(r)]; }
    return undefined;
  });
  const ctx: BackendContext = { table: 'pktmark', transport: async () => fake, bpf: () => Promise.reject(new Error('this test has no bpf()')) };
  const e = await t.throwsAsync(tcBackend.add([normalizeRule({ via: 'tc', dev: 'eth0', src: '10.0.0.1', mark: 0xdeadbeef })], ctx), { instanceOf: PktmarkError });
  t.is(e?.code, 'TIMEOUT');
  t.false(kernelHasFilter, 'the filter the kernel took was removed');
  t.is(types.at(-1), RTM_DELQDISC, 'and then the qdisc pktmark created');
});
