/**
 * Streaming list through a scripted kernel (FakeTransport): the dump arrives in parts; ENOBUFS in
 * the middle of it and NLM_F_DUMP_INTR both restart the dump, and no rule is yielded twice.
 * Also: the CLI's streamed table equals the collected one.
 */
import test from 'ava';
import { NFT_MSG_GETSET } from '../../codecs/nftables/set.js';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_DUMP_INTR, NLM_F_MULTI, parseMessages, type NetlinkMessage } from '../../codecs/netlink/message.js';
import {
  decodeRule, NFPROTO_INET, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeRule, writeTable, type NftRule,
} from '../../codecs/nftables/messages.js';
import { PktmarkError } from '../../src/errors.js';
import { Marker, encode } from '../../src/marker.js';
import { ackFor, doneFor, FakeTransport, type FakeReply } from '../../src/transport/fake.js';
import { NETLINK_NETFILTER, type Transport } from '../../src/transport/transport.js';
import { ruleTable, streamRuleTable } from '../../src/cli/output.js';
import type { RuleRecord } from '../../src/backends/backend.js';

/** N decoded NEWRULEs as pktmark would have sent them, with handles 10, 11, … */
function kernelRules(n: number): NftRule[] {
  const inputs = Array.from({ length: n }, (_, i) => ({ src: `10.1.${i >> 8}.${i & 255}`, mark: i + 1 }));
  const msgs = encode(inputs).flatMap((b) => parseMessages(b)).filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE));
  return msgs.map((m, i) => ({ ...decodeRule(m), handle: BigInt(10 + i) }));
}

const PER_PART = 7;

/** A dump kernel: each datagram holds PER_PART rules; `script(dumpNo)` may corrupt the dump-th dump. */
class DumpKernel {
  dumps = 0;
  constructor(public rules: NftRule[], private readonly script: (dump: number, parts: FakeReply[], seq: number) => FakeReply[] = (_, p) => p) {}
  readonly transport = new FakeTransport(NETLINK_NETFILTER, (reqs) => this.answer(reqs[0]));
  private answer(r: NetlinkMessage): FakeReply[] {
    if (r.header.type === nftType(NFT_MSG_GETTABLE)) {
      const w = new AttributeWriter();
      writeTable(w, NFT_MSG_NEWTABLE, 0, r.header.seq, { family: NFPROTO_INET, name: 'pktmark', flags: 0, comment: 'pktmark' });
      return [w.finish(), ackFor(r)];
    }
    // the table has no sets (list reads the anonymous sets' names first)
    if (r.header.type === nftType(NFT_MSG_GETSET)) return [doneFor(r.header.seq)];
    if (r.header.type !== nftType(NFT_MSG_GETRULE)) throw new Error('unexpected request');
    const parts: FakeReply[] = [];
    for (let i = 0; i < this.rules.length; i += PER_PART) parts.push(this.part(this.rules.slice(i, i + PER_PART), r.header.seq, 0));
    parts.push(doneFor(r.header.seq));
    return this.script(this.dumps++, parts, r.header.seq);
  }
  part(rules: readonly NftRule[], seq: number, extra: number): Uint8Array {
    const w = new AttributeWriter();
    for (const rule of rules) writeRule(w, NFT_MSG_NEWRULE, NLM_F_MULTI | extra, seq, rule);
    return w.finish();
  }
  async marker(): Promise<Marker> { return Marker.open({ transport: async () => this.transport }); }
}

const ids = (recs: readonly RuleRecord[]): string[] => recs.map((r) => r.id);
const handles = (rules: readonly NftRule[]): string[] => rules.map((r) => `nft:prerouting:${r.handle}`);

test('rules() yields every rule of a multi-part dump, in order, decoded', async (t) => {
  const k: DumpKernel = new DumpKernel(kernelRules(50));
  const m = await k.marker();
  const got: RuleRecord[] = [];
  for await (const r of m.rules({ via: 'nft' })) got.push(r);
  t.deepEqual(ids(got), handles(k.rules));
  t.is(Number(got[3].rule?.mark), 4);
  t.deepEqual(ids(await m.list({ via: 'nft' })), ids(got), 'list() is rules() collected');
  t.is(k.dumps, 2);
});

test('a Marker passes its transport\'s stream on: a rule dump is read part by part, never collected through exchange', async (t) => {
  const k: DumpKernel = new DumpKernel(kernelRules(30));
  const tr = k.transport;
  let parts = 0;
  let collected = 0;
  const spy: Transport = {
    protocol: tr.protocol, nextSeq: () => tr.nextSeq(), close: () => tr.close(),
    exchange: async (b, w) => {
      const replies = await tr.exchange(b, w);
      collected += replies.filter((r) => r.header.type === nftType(NFT_MSG_NEWRULE)).length;
      return replies;
    },
    stream: async function* (b, w) { for await (const p of tr.stream(b, w)) { parts++; yield p; } },
  };
  const m = await Marker.open({ transport: async () => spy });
  const got: string[] = [];
  for await (const r of m.rules({ via: 'nft' })) got.push(r.id);
  t.deepEqual(got, handles(k.rules));
  t.is(collected, 0);
  t.true(parts >= Math.ceil(30 / PER_PART));
});

test('ENOBUFS in the middle of a dump: the dump is asked again; rules already yielded are not yielded twice', async (t) => {
  const k: DumpKernel = new DumpKernel(kernelRules(40), (dump, parts) => (dump === 0 ? [parts[0], parts[1], new PktmarkError('ENOBUFS', 'injected overflow')] : parts));
  const m = await k.marker();
  const seenEarly: string[] = [];
  for await (const r of m.rules({ via: 'nft' })) seenEarly.push(r.id);
  t.is(k.dumps, 2, 'restarted once');
  t.deepEqual(seenEarly, handles(k.rules));
  t.is(new Set(seenEarly).size, seenEarly.length);
});

test('NLM_F_DUMP_INTR: the dump restarts, the rules yielded before are skipped by handle, and one added meanwhile appears once', async (t) => {
  const rules = kernelRules(30);
  const k: DumpKernel = new DumpKernel(rules.slice(0, 29), (dump, parts, seq) => {
    if (dump !== 0) return parts;
    // the table changes while being walked: the third part onwards is flagged, and a rule appears
    k.rules = rules;
    return [parts[0], parts[1], k.part(k.rules.slice(14, 21), seq, NLM_F_DUMP_INTR), doneFor(seq)];
  });
  const m = await k.marker();
  const got: string[] = [];
  for await (const r of m.rules({ via: 'nft' })) got.push(r.id);
  t.is(k.dumps, 2);
  t.deepEqual(got, handles(rules), 'every rule once, in order, including the one added during the first dump');
});

test('a dump interrupted every time gives up with BUSY', async (t) => {
  const k: DumpKernel = new DumpKernel(kernelRules(20), (_, parts, seq) => [parts[0], k.part(k.rules.slice(7), seq, NLM_F_DUMP_INTR), doneFor(seq)]);
  const m = await k.marker();
  const got: string[] = [];
  const e = await t.throwsAsync(async () => { for await (const r of m.rules({ via: 'nft' })) got.push(r.id); }, { instanceOf: PktmarkError });
  t.is(e!.code, 'BUSY');
  t.deepEqual(got, handles(k.rules.slice(0, 7)), 'what was yielded before is consistent and unique');
});

test('the streamed CLI table equals the collected one (short list), and widths hold for a long one', async (t) => {
  const k: DumpKernel = new DumpKernel(kernelRules(20));
  const m = await k.marker();
  const lines: string[] = [];
  const n = await streamRuleTable(m.rules({ via: 'nft' }), (l) => lines.push(l));
  t.is(n, 20);
  t.deepEqual(lines, ruleTable(await m.list({ via: 'nft' })));
  const long = new DumpKernel(kernelRules(600));
  const longLines: string[] = [];
  t.is(await streamRuleTable((await long.marker()).rules({ via: 'nft' }), (l) => longLines.push(l)), 600);
  t.is(longLines.length, 601);
  t.regex(longLines[0], /^ID\s+VIA\s+MATCH/);
});
