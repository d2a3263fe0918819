/**
 * apply against a model of nf_tables (test/helpers/nft-kernel.ts): exactness and order for random
 * desired lists, handles kept, idempotence (no batch at all the second time), the generation
 * check and its retries, prune modes, counters carried over, and bad input that sends nothing.
 */
import test from 'ava';
import fc from 'fast-check';
import { decodeRuleUserdata } from '../../codecs/nftables/userdata.js';
import { NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { PktmarkError } from '../../src/errors.js';
import { Marker } from '../../src/marker.js';
import { parseDesired, type DesiredRuleInput } from '../../src/apply/index.js';
import { exprsToRule } from '../../src/backends/nft/rule.js';
import { ruleKey } from '../../src/apply/diff.js';
import { normalizeRule } from '../../src/normalize.js';
import { NftKernel } from '../helpers/nft-kernel.js';

const open = async (k: NftKernel): Promise<Marker> => Marker.open({ transport: () => k.transport });

/** the kernel's managed rules per chain: [key, name, handle] in order */
function managed(k: NftKernel, chain: string): { key: string; name?: string; handle: bigint }[] {
  return k.rulesOf(chain).flatMap((x) => {
    const u = decodeRuleUserdata(x.rule.userdata);
    if (!u.apply) return [];
    const r = exprsToRule(x.rule.exprs, chain, u.comment)!;
    return [{ key: ruleKey(r), handle: x.handle, ...(u.name !== undefined ? { name: u.name } : {}) }];
  });
}
const expected = (rules: readonly DesiredRuleInput[], chain: string): { key: string; name?: string }[] =>
  rules.map((r) => { const { name, ...f } = r; return { rule: normalizeRule(f), name }; })
    .filter((x) => (x.rule.hook ?? 'prerouting') === chain)
    .map((x) => ({ key: ruleKey(x.rule), ...(x.name !== undefined ? { name: x.name } : {}) }));

const ruleArb = fc.record({
  src: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.1.0.0/16', '2001:db8::1'),
  mark: fc.integer({ min: 1, max: 4 }),
  hook: fc.constantFrom('prerouting', 'prerouting', 'output'),
  name: fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { nil: undefined }),
});
const listArb = fc.array(ruleArb, { maxLength: 8 }).map((rs) => {
  const seen = new Set<string>();
  return rs.map((r) => {
    const { name, ...f } = r;
    if (name === undefined || seen.has(name)) return f as DesiredRuleInput;
    seen.add(name);
    return { ...f, name } as DesiredRuleInput;
  });
});

test('exact: after each apply of random desired lists the kernel holds exactly them, in order; kept rules keep their handles', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(listArb, { minLength: 1, maxLength: 5 }), async (lists) => {
    const k = new NftKernel();
    // a rule add made: apply leaves it alone
    const m = await open(k);
    await m.add({ src: '192.0.2.1', mark: 9 });
    let before = new Map<string, bigint>();
    for (const list of lists) {
      const r = await m.apply({ rules: list });
      for (const chain of ['prerouting', 'output']) {
        const got = managed(k, chain);
        t.deepEqual(got.map(({ key, name }) => ({ key, ...(name !== undefined ? { name } : {}) })), expected(list, chain));
      }
      for (const s of r.steps) if (s.action === 'keep' || s.action === 'replace') t.is(before.get(s.id!) !== undefined, true, `${s.action} ${s.id} existed`);
      t.true(k.rulesOf('prerouting').some((x) => !decodeRuleUserdata(x.rule.userdata).apply), 'add\'s rule is still there');
      before = new Map((await m.list({ via: 'nft' })).map((x) => [x.id, 0n]));
    }
  }), { numRuns: 150 });
});

test('idempotent: a second apply of the same file sends no batch (no NEWRULE, no DELRULE) and reports 0 added, 0 removed, N kept', async (t) => {
  const k = new NftKernel();
  const m = await open(k);
  const d = parseDesired('rules:\n  - {src: 10.0.0.1, mark: 1}\n  - {name: w, src: 10.0.0.2, mark: 2, comment: x}\n  - {hook: output, proto: tcp, dport: 22, mark: 3}\n');
  t.is((await m.apply(d)).added, 3);
  const sentBefore = k.transport.sent.length;
  const r = await m.apply(d);
  t.like(r, { added: 0, removed: 0, replaced: 0, moved: 0, kept: 3, sent: false });
  const types = k.transport.sent.slice(sentBefore).flatMap((b) => parseMessages(b)).map((x) => x.header.type);
  t.false(types.includes(nftType(NFT_MSG_NEWRULE)));
  t.false(types.includes(nftType(NFT_MSG_DELRULE)));
});

test('a named rule whose content changed is replaced in place: same handle, counter carried over', async (t) => {
  const k = new NftKernel();
  const m = await open(k);
  await m.apply([{ src: '10.0.0.1', mark: 1 }, { name: 'web', src: '10.0.0.2', mark: 2 }, { src: '10.0.0.3', mark: 3 }]);
  const web = k.rulesOf('prerouting')[1];
  web.rule = { ...web.rule, exprs: web.rule.exprs.map((e) => (e.kind === 'counter' ? { kind: 'counter', packets: 42n, bytes: 4200n } : e)) };
  const r = await m.apply([{ src: '10.0.0.1', mark: 1 }, { name: 'web', src: '10.0.0.2', mark: 7 }, { src: '10.0.0.3', mark: 3 }]);
  t.like(r, { replaced: 1, kept: 2, added: 0, removed: 0 });
  const after = (await m.list({ via: 'nft' }))[1];
  t.is(after.id, `nft:prerouting:${web.handle}`);
  t.is(Number(after.rule?.mark), 7);
  t.is(after.packets, 42);
  t.is(after.bytes, 4200);
});

test('generation check: a commit between dump and batch makes the kernel refuse it; apply re-reads and retries', async (t) => {
  const k = new NftKernel();
  const m = await open(k);
  let once = true;
  k.beforeBatch = () => { if (once) { once = false; k.bump(); } };
  const r = await m.apply([{ src: '10.0.0.1', mark: 1 }]);
  t.is(r.retries, 1);
  t.is(managed(k, 'prerouting').length, 1);
});

test('generation check: a writer that always wins ends in BUSY and nothing applied', async (t) => {
  const k = new NftKernel();
  const m = await open(k);
  await m.apply([{ src: '10.0.0.1', mark: 1 }]);
  k.beforeBatch = () => k.bump();
  const e = await t.throwsAsync(m.apply([{ src: '10.0.0.2', mark: 2 }], { maxRetries: 2 }), { instanceOf: PktmarkError });
  t.is(e?.code, 'BUSY');
  t.deepEqual(managed(k, 'prerouting').map((x) => x.key), [ruleKey(normalizeRule({ src: '10.0.0.1', mark: 1 }))]);
});

test('prune: false only adds; "all" also removes rules apply did not make; the default leaves them', async (t) => {
  const k = new NftKernel();
  const m = await open(k);
  await m.add({ src: '192.0.2.1', mark: 9 });
  await m.apply([{ src: '10.0.0.1', mark: 1 }]);
  t.like(await m.apply([{ src: '10.0.0.2', mark: 2 }], { prune: false }), { added: 1, removed: 0 });
  t.is(managed(k, 'prerouting').length, 2);
  t.like(await m.apply([{ src: '10.0.0.2', mark: 2 }]), { removed: 1, kept: 1 });
  t.is(k.rulesOf('prerouting').length, 2);
  t.like(await m.apply([{ src: '10.0.0.2', mark: 2 }], { prune: 'all' }), { removed: 1, kept: 1 });
  t.is(k.rulesOf('prerouting').length, 1);
});

test('plan sends nothing and says what would move', async (t) => {
  const k = new NftKernel();
  const m = await open(k);
  await m.apply([{ src: '10.0.0.1', mark: 1 }, { src: '10.0.0.2', mark: 2 }, { src: '10.0.0.3', mark: 3 }]);
  const batches = k.batches.length;
  const r = await m.apply([{ src: '10.0.0.3', mark: 3 }, { src: '10.0.0.1', mark: 1 }, { src: '10.0.0.2', mark: 2 }], { plan: true });
  t.is(k.batches.length, batches);
  t.like(r, { moved: 1, kept: 2, sent: false });
  t.is(r.steps.find((s) => s.action === 'move')?.reason, 'out of order');
});

test('bad input anywhere: nothing is read or sent; the error names the rule index, name, line and field', async (t) => {
  const text = 'rules:\n  - name: ok\n    src: 10.0.0.1\n    mark: 1\n  - name: dns\n    proto: udp\n    dport: 99999\n    mark: 2\n';
  const e = t.throws(() => parseDesired(text, 'marks.yaml'), { instanceOf: PktmarkError });
  t.is(e?.code, 'INVALID_PORT');
  t.is(e?.field, 'rules[1].dport');
  t.is(e?.messageIndex, 1);
  t.regex(e!.message, /rule 1 \(name "dns", marks\.yaml:7\)/);
  const k = new NftKernel();
  const m = await open(k);
  await t.throwsAsync(m.apply([{ src: '10.0.0.1', mark: 1 }, { src: '10.0.0.1', mark: 'lots' }]), { message: /rule 1/ });
  t.is(k.transport.sent.length, 0);
  // lists are sets: refused by apply, naming the field, before anything is sent
  const lists = [[{ src: ['10.0.0.1', '10.0.0.2'], mark: 1 }, 'rules[1].src'], [{ proto: 'tcp', dport: [80, 443], mark: 1 }, 'rules[1].dport'], [{ proto: 'udp', sport: '1,5-9', mark: 1 }, 'rules[1].sport']] as const;
  for (const [rule, field] of lists) {
    const err = await t.throwsAsync(m.apply([{ src: '10.0.0.1', mark: 1 }, rule as DesiredRuleInput]), { instanceOf: PktmarkError });
    t.is(err?.code, 'UNSUPPORTED');
    t.is(err?.field, field);
  }
  t.is(k.transport.sent.length, 0);
});

test('file errors: duplicate names, unknown keys, YAML syntax, a non-mapping rule; JSON gets lines too', (t) => {
  t.throws(() => parseDesired('rules:\n  - {name: a, mark: 1}\n  - {name: a, mark: 2}\n'), { message: /rule 1 \(name "a", line 3\).*already used by rule 0/ });
  t.throws(() => parseDesired('rule:\n  - {mark: 1}\n'), { message: /line 1: unknown top-level key "rule"/ });
  t.throws(() => parseDesired('rules:\n  - {mark: 1\n'), { message: /^line \d+: / });
  t.throws(() => parseDesired('rules:\n  - 7\n'), { message: /rule 0 \(line 2\): a rule must be a mapping/ });
  t.throws(() => parseDesired('rules:\n  - {name: "", mark: 1}\n'), { message: /name "" must be/ });
  const e = t.throws(() => parseDesired('{\n  "rules": [\n    {"src": "10.0.0.1", "mark": 1},\n    {"src": "10.0.0.300", "mark": 1}\n  ]\n}\n', 'marks.json'));
  t.regex(e!.message, /rule 1 \(marks\.json:4\)/);
  t.is(parseDesired('').rules.length, 0);
  t.is(parseDesired('rules: []\n').rules.length, 0);
});

test('cache: while nobody else commits, applies diff against the model (no dump) and stay exact; a foreign commit makes the next one dump', async (t) => {
  const { ApplyCache } = await import('../../src/apply/index.js');
  const { NFT_MSG_GETRULE } = await import('../../codecs/nftables/messages.js');
  const k = new NftKernel();
  const m = await open(k);
  const cache = new ApplyCache();
  const dumps = (): number => k.transport.sent.flatMap((b) => parseMessages(b)).filter((x) => x.header.type === nftType(NFT_MSG_GETRULE)).length;
  await fc.assert(fc.asyncProperty(fc.array(listArb, { minLength: 1, maxLength: 6 }), async (lists) => {
    for (const list of lists) {
      const before = dumps();
      const foreign = list.length % 3 === 0;
      if (foreign) k.bump();
      let r;
      try { r = await m.apply({ rules: list }, { cache }); } catch (e) { t.fail(String(e)); return; }
      if (!foreign && cache.state && r.replaced + r.moved === 0) t.is(dumps(), before, 'no dump while the generation is ours');
      for (const chain of ['prerouting', 'output']) {
        t.deepEqual(managed(k, chain).map(({ key, name }) => ({ key, ...(name !== undefined ? { name } : {}) })), expected(list, chain));
      }
    }
  }), { numRuns: 100 });
});

test('cache: an apply that sends nothing into an absent table leaves it absent in the model, so the next apply makes the table', async (t) => {
  const { ApplyCache } = await import('../../src/apply/index.js');
  const k = new NftKernel();
  const m = await open(k);
  const cache = new ApplyCache();
  const r0 = await m.apply({ rules: [] }, { cache });
  t.false(r0.sent);
  t.is(cache.state?.table, 'absent');
  const r1 = await m.apply({ rules: [{ src: '10.0.0.1', mark: 1 }] }, { cache });
  t.is(r1.added, 1);
  t.is(managed(k, 'prerouting').length, 1);
});
