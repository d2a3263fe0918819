/**
 * apply against the real kernel: exact state and order for random desired lists (handles and
 * counters of the rules that stay are kept, and packets counted before an apply still count
 * after it), idempotence seen on the wire (RecordingTransport), no gap for a rule that stays
 * during 200 applies, the generation check against an nft change between dump and batch, and
 * two processes racing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseMessages } from '../../codecs/netlink/message.js';
import { NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { NFNL_MSG_BATCH_BEGIN } from '../../codecs/netlink/batch.js';
import { Marker } from '../../src/marker.js';
import type { DesiredRuleInput } from '../../src/apply/index.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import { RecordingTransport } from '../../src/transport/fake.js';
import type { NetlinkProtocol, Transport, WaitFor } from '../../src/transport/transport.js';
import { IP, liveTest, NFT, withNetns, withVethPair, type Netns } from '../helpers/netns.js';
import { sendUdp } from '../helpers/packets.js';

/** `nft -j list chain`: [comment-or-expr text, handle, packets] of pktmark's rules in order */
function kernelRules(ns: Netns, chain: string): { handle: number; packets: number; text: string }[] {
  const j = JSON.parse(ns.nft('-j', '-a', 'list', 'chain', 'inet', 'pktmark', chain)) as { nftables: { rule?: { handle: number; expr: Record<string, unknown>[] } }[] };
  return j.nftables.flatMap((o) => (o.rule ? [{
    handle: o.rule.handle,
    packets: (o.rule.expr.find((e) => 'counter' in e) as { counter: { packets: number } } | undefined)?.counter.packets ?? 0,
    text: JSON.stringify(o.rule.expr.filter((e) => !('counter' in e))),
  }] : []));
}

const srcs = ['10.0.0.1', '10.0.0.3', '10.0.0.7', '10.0.9.0/24', 'fd00::9'];
const listArb = fc.uniqueArray(fc.record({ src: fc.constantFrom(...srcs), mark: fc.integer({ min: 1, max: 3 }), name: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }) }),
  { maxLength: 6, selector: (r) => r.name ?? `${r.src}/${r.mark}` })
  .map((rs) => { const seen = new Set<string>(); return rs.map(({ name, ...f }) => (name === undefined || seen.has(name) ? f : (seen.add(name), { ...f, name }))) as DesiredRuleInput[]; });

liveTest('apply is exact: random desired lists, the kernel holds exactly them in order; rules that stay keep handles and counters, packets before the apply still count', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      await fc.assert(fc.asyncProperty(fc.array(listArb, { minLength: 2, maxLength: 4 }), async (lists) => {
        await m.clear();
        let prev: Map<string, { id: string; packets: number }> = new Map();
        for (const list of lists) {
          const r = await m.apply(list);
          const listed = (await m.list({ via: 'nft' }));
          const want = list.map((d) => `${d.src}/${d.mark}`);
          t.deepEqual(listed.map((x) => `${x.rule!.src!.address}${x.rule!.src!.prefix < 32 && !x.rule!.src!.address.includes(':') ? `/${x.rule!.src!.prefix}` : ''}/${x.rule!.mark}`), want);
          for (const s of r.steps.filter((s) => s.action === 'keep')) {
            const before = [...prev.values()].find((p) => p.id === s.id);
            t.truthy(before, `kept ${s.id} existed before`);
            t.is(listed.find((x) => x.id === s.id)?.packets, before!.packets, 'its counter is kept');
          }
          // traffic from 10.0.0.1 (matched by some lists) — counted by the rule, kept across applies
          sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
          prev = new Map((await m.list({ via: 'nft' })).map((x) => [x.id, { id: x.id, packets: x.packets }]));
        }
      }), { numRuns: 12 });
      // a rule that stays through an apply keeps counting from where it was
      await m.clear();
      await m.apply([{ name: 'one', src: '10.0.0.1', mark: 1 }, { src: '10.0.0.3', mark: 3 }]);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 5);
      const [one] = await m.list({ via: 'nft' });
      await m.apply([{ src: '10.0.0.7', mark: 7 }, { name: 'one', src: '10.0.0.1', mark: 1 }, { src: '10.0.0.9', mark: 9 }]);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 4);
      const after = (await m.list({ via: 'nft' })).find((x) => x.id === one.id);
      t.is(after?.packets, 9, 'the 5 packets before the apply and the 4 after');
      t.is(kernelRules(a, 'prerouting').length, 3);
    } finally { await m.close(); }
  });
});

liveTest('idempotent on the wire: a second apply of the same rules sends no NEWRULE and no DELRULE (recording transport)', async (t) => {
  await withNetns(async (ns) => {
    const rec: RecordingTransport[] = [];
    const m = await Marker.open({ netns: ns.name, transport: async (p: NetlinkProtocol) => { const r = new RecordingTransport(await NetlinkSocket.open({ protocol: p, netns: ns.name })); rec.push(r); return r; } });
    try {
      const rules: DesiredRuleInput[] = [{ src: '10.0.0.1', mark: 1 }, { name: 'w', src: '10.0.0.2', mark: 2, comment: 'web' }, { hook: 'output', proto: 'tcp', dport: 22, mark: 3 }];
      t.like(await m.apply(rules), { added: 3 });
      const n = rec[0].recording.length;
      const r = await m.apply(rules);
      t.like(r, { added: 0, removed: 0, kept: 3, sent: false });
      const types = rec[0].recording.slice(n).flatMap((x) => parseMessages(Buffer.from(x.sent, 'hex'))).map((x) => x.header.type);
      t.false(types.includes(nftType(NFT_MSG_NEWRULE)) || types.includes(nftType(NFT_MSG_DELRULE)));
      t.true(ns.nft('list', 'ruleset').includes('comment "web"'), 'nft still shows the comment beside apply\'s TLVs');
    } finally { await m.close(); }
  });
});

liveTest('no gap: packets from an address whose rule stays are marked 100% of the time during 200 applies that change other rules', async (t) => {
  await withVethPair(async (a, b) => {
    a.nftFile('table inet observer { chain c { type filter hook prerouting priority 0; ip saddr 10.0.0.1 udp dport 9 counter; ip saddr 10.0.0.1 udp dport 9 meta mark 0x10 counter; }; }\n');
    const m = await Marker.open({ netns: a.name });
    try {
      await m.apply([{ name: 'stays', src: '10.0.0.1', mark: 0x10 }]);
      const sender = spawn(IP, ['netns', 'exec', b.name, process.execPath, fileURLToPath(new URL('../demo/send-udp.mjs', import.meta.url)), '10.0.0.1', '10.0.0.2', '9', '100000000'], { stdio: 'ignore' });
      try {
        for (let i = 0; i < 200; i++) {
          const others = Array.from({ length: 1 + (i % 5) }, (_, k) => ({ src: `10.0.${1 + ((i + k) % 7)}.0/24`, mark: 1 + ((i * 7 + k) % 5) }));
          // the rule that stays is first, in the middle, or last: the others move around it
          const at = i % 3;
          const list: DesiredRuleInput[] = [...others.slice(0, at), { name: 'stays', src: '10.0.0.1', mark: 0x10 }, ...others.slice(at)];
          await m.apply(list);
        }
      } finally { sender.kill('SIGKILL'); }
      await new Promise((r) => setTimeout(r, 200));
      const j = JSON.parse(a.nft('-j', 'list', 'table', 'inet', 'observer')) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
      const [total, marked] = j.nftables.flatMap((o) => o.rule?.expr.flatMap((e) => (e.counter ? [e.counter.packets] : [])) ?? []);
      t.true(total > 1000, `the stream ran during the applies (${total} packets)`);
      t.is(marked, total, `${marked} of ${total} marked`);
    } finally { await m.close(); }
  });
});

/** A transport that runs `between` once, just before the first batch: another writer between our dump and our batch. */
class Interloper implements Transport {
  done = false;
  constructor(private readonly inner: Transport, private readonly between: () => void) {}
  get protocol(): NetlinkProtocol { return this.inner.protocol; }
  nextSeq(): number { return this.inner.nextSeq(); }
  exchange(bytes: Uint8Array, wait: WaitFor) {
    if (!this.done && parseMessages(bytes)[0]?.header.type === NFNL_MSG_BATCH_BEGIN) { this.done = true; this.between(); }
    return this.inner.exchange(bytes, wait);
  }
  close() { return this.inner.close(); }
}

liveTest('races: an nft change between pktmark\'s dump and its batch is caught by the generation check (ERESTART) and the apply retried', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name, transport: async (p) => new Interloper(await NetlinkSocket.open({ protocol: p, netns: ns.name }), () => ns.nftFile('table ip other { chain c { type filter hook input priority 0; counter; }; }\n')) });
    try {
      const r = await m.apply([{ src: '10.0.0.1', mark: 1 }, { src: '10.0.0.2', mark: 2 }]);
      t.is(r.retries, 1, 'the first batch was refused');
      t.is(kernelRules(ns, 'prerouting').length, 2);
      t.true(ns.nft('list', 'tables').includes('table ip other'), 'the other writer\'s change stands');
    } finally { await m.close(); }
  });
});

liveTest('races: two processes applying two files to one namespace end in one of the two states exactly, never a mix', async (t) => {
  await withNetns(async (ns) => {
    const dir = mkdtempSync(join(tmpdir(), 'pktmark-race-'));
    try {
      const fa = join(dir, 'a.yaml');
      const fb = join(dir, 'b.yaml');
      const A = Array.from({ length: 30 }, (_, i) => `  - {src: 10.1.0.${i + 1}, mark: 1}`);
      const B = Array.from({ length: 30 }, (_, i) => `  - {src: 10.2.0.${i + 1}, mark: 2}`);
      writeFileSync(fa, `rules:\n${A.join('\n')}\n`);
      writeFileSync(fb, `rules:\n${B.join('\n')}\n`);
      const child = fileURLToPath(new URL('./apply-child.ts', import.meta.url));
      const runChild = (f: string): Promise<string> => new Promise((res, rej) => {
        const c = spawn(process.execPath, ['--import', 'tsx', child, ns.name, f, '25'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
        c.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`child exited ${code}`))));
      });
      const outs = await Promise.all([runChild(fa), runChild(fb)]);
      const stats = outs.map((o) => JSON.parse(o) as { retries: number; busy: number });
      t.log(`retries ${stats.map((s) => s.retries).join(' and ')}, BUSY ${stats.map((s) => s.busy).join(' and ')}`);
      const got = kernelRules(ns, 'prerouting').map((r) => r.text);
      const marks = new Set(got.map((x) => (x.includes('"10.1.') ? 'a' : 'b')));
      t.is(got.length, 30, 'exactly one file\'s 30 rules');
      t.is(marks.size, 1, 'all from one file');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
void NFT;
