/**
 * The nft backend against a scripted kernel (FakeTransport): add → one exchange → handles from
 * the echoes; an injected NLMSG_ERROR maps to the right rule and field; retries on EBUSY;
 * ownership; list/delete/clear. No root needed.
 */
import test from 'ava';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_ECHO, NLM_F_EXCL, NLM_F_MULTI, type NetlinkMessage } from '../../codecs/netlink/message.js';
import {
  decodeRule, decodeTable, NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_DELTABLE, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWCHAIN,
  NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeRule, writeTable, type NftRule,
} from '../../codecs/nftables/messages.js';
import { PktmarkError } from '../../codecs/errors.js';
import { nftBackend } from '../../src/backends/nft/index.js';
import type { BackendContext } from '../../src/backends/backend.js';
import { FakeNftKernel, FakeTransport, type FakeTable } from '../../src/testing/index.js';
import { NETLINK_NETFILTER } from '../../src/transport/transport.js';
import { normalizeRule } from '../../src/normalize.js';

/** pktmark/testing's nf_tables, with this file's one table `pktmark` and a context for the backend. */
class FakeKernel extends FakeNftKernel {
  readonly transport = this.connect(NETLINK_NETFILTER) as FakeTransport;
  get table(): FakeTable | undefined { return this.tables.find((x) => x.name === 'pktmark'); }
  set table(t: { comment?: string } | undefined) { this.tables = t === undefined ? [] : [{ name: 'pktmark', ...t }]; }
  ctx(): BackendContext { return { table: 'pktmark', transport: async () => this.transport, bpf: () => Promise.reject(new Error('this test has no bpf()')) }; }
}

const rules = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((src, i) => normalizeRule({ src, mark: i + 1 }));

test('add: one GETTABLE, then the whole batch in one exchange; ids from the two echoes', async (t) => {
  const k = new FakeKernel();
  const recs = await nftBackend.add(rules, k.ctx());
  t.is(k.exchanges, 2);
  t.deepEqual(recs.map((r) => r.id), ['nft:prerouting:2', 'nft:prerouting:3', 'nft:prerouting:4', 'nft:prerouting:5']);
  t.is(recs[0].text, 'nft add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0x1');
  const listed = await nftBackend.list(k.ctx());
  t.deepEqual(listed.map((r) => r.rule), rules);
  t.deepEqual(listed.map((r) => r.id), recs.map((r) => r.id));
});

test('an NLMSG_ERROR for the third NEWRULE is reported as rule 2, with the field from the ext-ack offset; nothing applied', async (t) => {
  const k = new FakeKernel();
  const dport = normalizeRule({ src: '10.0.0.9', proto: 'tcp', dport: 80, mark: 7, rate: '1/second' });
  // point the ext-ack offset into the limit expression of that rule
  const offsetIn = (m: NetlinkMessage): number => {
    const b = new Uint8Array(m.payload.buffer, m.payload.byteOffset - 16, m.header.len);
    return Buffer.from(b).indexOf('limit') - 8;
  };
  k.failRule = { index: 2, errno: 22, offsetIn };
  const e = await t.throwsAsync(nftBackend.add([rules[0], rules[1], dport, rules[3]], k.ctx()), { instanceOf: PktmarkError });
  t.is(e!.messageIndex, 2);
  t.is(e!.errno, 22);
  t.is(e!.field, 'rate');
  t.is(e!.extack, 'injected');
  t.is(e!.code, 'KERNEL');
  t.regex(e!.message, /rule 2 \(nft add rule inet pktmark prerouting ip saddr 10\.0\.0\.9 tcp dport 80 limit/);
  t.is(k.table, undefined, 'the batch was not applied');
});

test('EBUSY is retried with fresh sequence numbers, then succeeds', async (t) => {
  const k = new FakeKernel();
  k.failRule = { index: 0, errno: 16, times: 2 };
  const recs = await nftBackend.add([rules[0]], k.ctx());
  t.is(recs.length, 1);
  t.is(k.exchanges, 1 + 3);
});

test('EBUSY forever gives up after the retries with BUSY', async (t) => {
  const k = new FakeKernel();
  k.failRule = { index: 0, errno: 16, times: 100 };
  const e = await t.throwsAsync(nftBackend.add([rules[0]], k.ctx()), { instanceOf: PktmarkError });
  t.is(e!.code, 'BUSY');
  t.is(k.exchanges, 1 + 4);
});

test('a table of that name that is not ours: NOT_OWNED, nothing sent but the GETTABLE', async (t) => {
  const k = new FakeKernel();
  k.table = { comment: 'someone else' };
  for (const op of [() => nftBackend.add(rules, k.ctx()), () => nftBackend.list(k.ctx()), () => nftBackend.clear(k.ctx()), () => nftBackend.delete(['nft:prerouting:3'], k.ctx())]) {
    const before = k.exchanges;
    const e = await t.throwsAsync(op(), { instanceOf: PktmarkError });
    t.is(e!.code, 'NOT_OWNED');
    t.is(k.exchanges, before + 1);
  }
  k.table = {};
  await t.throwsAsync(nftBackend.add(rules, k.ctx()), { instanceOf: PktmarkError, message: /not made by pktmark/ });
});

test('delete: INVALID_ID before anything is sent; NOT_FOUND for a missing handle with its index; deletes in one batch', async (t) => {
  const k = new FakeKernel();
  const recs = await nftBackend.add(rules, k.ctx());
  const n = k.exchanges;
  for (const bad of ['nft:forward:3', 'nft:prerouting:0', 'nft:prerouting:x', 'tc:eth0', 'nft:prerouting:3:4']) {
    const e = await t.throwsAsync(nftBackend.delete([bad], k.ctx()), { instanceOf: PktmarkError });
    t.is(e!.code, 'INVALID_ID', bad);
  }
  t.is(k.exchanges, n);
  const e = await t.throwsAsync(nftBackend.delete([recs[0].id, 'nft:prerouting:99'], k.ctx()), { instanceOf: PktmarkError });
  t.is(e!.code, 'NOT_FOUND');
  t.is(e!.messageIndex, 1);
  t.is(k.rules.length, 4, 'nothing deleted');
  await nftBackend.delete([recs[0].id, recs[2].id], k.ctx());
  t.deepEqual((await nftBackend.list(k.ctx())).map((r) => r.id), [recs[1].id, recs[3].id]);
});

test('clear deletes the table; list and clear on an absent table are empty and quiet', async (t) => {
  const k = new FakeKernel();
  t.deepEqual(await nftBackend.list(k.ctx()), []);
  await nftBackend.clear(k.ctx());
  await nftBackend.add(rules, k.ctx());
  await nftBackend.clear(k.ctx());
  t.is(k.table, undefined);
  t.deepEqual(await nftBackend.list(k.ctx()), []);
});

test('add to an existing pktmark table with an output rule creates the output chain', async (t) => {
  const k = new FakeKernel();
  await nftBackend.add([rules[0]], k.ctx());
  const out = normalizeRule({ hook: 'output', dst: '10.0.0.1', mark: 5 });
  const [rec] = await nftBackend.add([out], k.ctx());
  t.regex(rec.id, /^nft:output:\d+$/);
  const types = parseTypes(k.transport.sent.at(-1)!);
  t.deepEqual(types, [0x10, nftType(NFT_MSG_NEWTABLE), nftType(NFT_MSG_NEWCHAIN), nftType(NFT_MSG_NEWRULE), 0x11]);
  t.is(nftType(NFT_MSG_DELTABLE) & 0xff, 2);
});

function parseTypes(b: Uint8Array): number[] {
  const out: number[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 0; p < b.length; p += (v.getUint32(p, true) + 3) & ~3) out.push(v.getUint16(p + 4, true));
  return out;
}

test('a table made by someone else between our look and our batch: NEWTABLE is exclusive, so NOT_OWNED and nothing added', async (t) => {
  const k = new FakeKernel();
  k.raceTable = { name: 'pktmark', comment: 'made by someone else' };
  const e = await t.throwsAsync(nftBackend.add(rules, k.ctx()), { instanceOf: PktmarkError });
  t.is(e?.code, 'NOT_OWNED');
  t.deepEqual(k.rules, [], 'no rule went into their table');
});

test('a table made by another pktmark in between is simply used', async (t) => {
  const k = new FakeKernel();
  k.raceTable = { name: 'pktmark', comment: 'pktmark' };
  const recs = await nftBackend.add(rules, k.ctx());
  t.is(recs.length, 4);
  t.is(k.rules.length, 4);
});
