/**
 * `--dry-run` as an unprivileged user (setpriv: nobody/nogroup, no groups, no capabilities):
 * no socket, no koffi, no privileges, and the bytes printed by `--hex` are the golden ones:
 *   - nft: for every case of fixtures/nft/cases.json, the CLI's messages equal encode() and the
 *     NEWRULE equals what nft 1.0.6 sent (fixtures/nft/<case>.json) after zeroing seq/port id and
 *     the one documented flag difference (pktmark adds NLM_F_ECHO|NLM_F_ACK), with BATCH_BEGIN and
 *     BATCH_END equal too;
 *   - tc: each `tc filter add` fixture line (its `cookie` words dropped: pktmark adds its own,
 *     the same bytes) gives tc's RTM_NEWTFILTER (NLM_F_ECHO aside) after the clsact NEWQDISC.
 */
import type { ExecutionContext } from 'ava';
import { encode, explain } from '../../src/marker.js';
import type { MarkRuleInput } from '../../src/rule.js';
import { cli, pool } from './cli.js';
import { fixtureNames, loadFixture, loadInput, nftBatch, type FixtureRun } from '../helpers/fixtures.js';
import { DROP_TO_NOBODY, liveTest } from '../helpers/requires.js';

const cases = loadInput<{ rules: { name: string; input: MarkRuleInput; nft: string }[] }>('nft', 'cases.json').rules;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
const type = (h: string): string => h.slice(8, 12);
const clearFlags = (h: string, f: number): string => {
  const v = parseInt(h.slice(14, 16) + h.slice(12, 14), 16) & ~f;
  return h.slice(0, 12) + (v & 0xff).toString(16).padStart(2, '0') + (v >> 8).toString(16).padStart(2, '0') + h.slice(16);
};

/** A cases.json input as `pktmark add` options. */
function options(input: MarkRuleInput): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(input)) {
    if (k === 'xor' || k === 'mask') continue;
    out.push(`--${k}`, String(v));
  }
  return out;
}

/** runs as root, which drops to nobody; elsewhere skipped with the reason, in CI a failure */
const nobodyTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void => liveTest(title, [DROP_TO_NOBODY], fn, { serial: false });

nobodyTest('nft: --dry-run --hex as nobody prints the golden messages of every fixture case', async (t) => {
  t.timeout(300_000);
  // (the add command has no option for the mark and ct mark matches: those cases go through the iptables front's tests)
  const plain = cases.filter((c) => !c.input.xor && c.input.mask === undefined && c.input.markMatch === undefined && c.input.ctmarkMatch === undefined);
  t.true(plain.length >= 25);
  const results = await pool(plain, 6, (c) => cli(['--dry-run', '--hex', 'add', ...options(c.input)], { asNobody: true }));
  results.forEach((r, i) => {
    const c = plain[i];
    t.is(r.code, 0, `${c.name}: ${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    t.deepEqual(lines, encode(c.input).map(hex), `${c.name}: the bytes encode() gives`);
    const fx = { batch: nftBatch(c.name) };
    const rule = lines.map(norm).find((l) => type(l) === '060a')!;
    t.is(clearFlags(rule, 0x0c), clearFlags(norm(fx.batch[1]), 0x0c), `${c.name}: NEWRULE as nft sent it`);
    t.is(norm(lines[0]), norm(fx.batch[0]), `${c.name}: BATCH_BEGIN`);
    t.is(norm(lines.at(-1)!), norm(fx.batch[2]), `${c.name}: BATCH_END`);
  });
});

nobodyTest('nft: --dry-run prints the nft command (the fixture\'s), also through the iptables front', async (t) => {
  t.timeout(300_000);
  const c = cases.find((x) => x.name === 'limit')!;
  const r = await cli(['--dry-run', 'add', ...options(c.input)], { asNobody: true });
  t.is(r.stdout.trim(), c.nft);
  t.is(explain(c.input), c.nft);
  const f = await cli(['--dry-run', '--hex', 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-m', 'limit', '--limit', '1/s', '--limit-burst', '1', '-j', 'MARK', '--set-mark', '0xdeadbeef'], { asNobody: true });
  t.is(f.code, 0, f.stderr);
  t.deepEqual(f.stdout.trim().split('\n'), encode({ ...c.input, family: 'ip' }).map(hex));
});

nobodyTest('without privileges, a real add says: needs root or CAP_NET_ADMIN (try --dry-run)', async (t) => {
  t.timeout(300_000);
  const r = await cli(['add', '--src', '10.0.0.1', '--mark', '1'], { asNobody: true });
  t.is(r.code, 1);
  t.regex(r.stderr, /^pktmark: EPERM.*needs root or CAP_NET_ADMIN \(try --dry-run\)\n$/);
});

const tcFixtures = fixtureNames('tc').map((f) => [`${f}.json`, loadFixture('tc', f)] as const);
/** a tc run's words as `pktmark tc …` takes them: tc's argv with `tc` for /usr/sbin/tc */
const tcWords = (r: FixtureRun): string => ['tc', ...r.command.slice(1)].join(' ');

nobodyTest('tc: --dry-run --hex --ifindex as nobody prints tc\'s RTM_NEWTFILTER for every clsact filter fixture', async (t) => {
  t.timeout(300_000);
  const clsact = tcFixtures.find(([f]) => f === 'clsact-qdisc.json')![1].runs[0].messages.map(norm).find((m) => type(m) === '2400')!;
  const lines = tcFixtures.flatMap(([f, fx]) => fx.runs.filter((r) => /^tc filter add .* (ingress|egress) .*action skbedit/.test(tcWords(r))).map((r) => ({ f, fx, r })));
  t.true(lines.length >= 7);
  for (const { f, fx, r } of lines) {
    const words = tcWords(r).replace(/ cookie [0-9a-f]+/, '').split(' ');
    const out = await cli(['--dry-run', '--hex', '--ifindex', `d0=${fx.ifindex}`, ...words], { asNobody: true });
    t.is(out.code, 0, `${f}: ${out.stderr}`);
    const ours = out.stdout.trim().split('\n').map(norm);
    t.is(ours[0], clsact, `${f}: clsact NEWQDISC as tc sent it`);
    const theirs = r.messages.map(norm).find((m) => type(m) === '2c00')!;
    t.is(clearFlags(ours[1], 0x08), theirs, `${f}: ${tcWords(r)}`);
  }
});
