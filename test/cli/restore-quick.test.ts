/**
 * The restore's quick lines (src/cli/fronts/restore-quick.ts) must never change a result: a file
 * parses to the same plan (rules, normalized rules, counters, tables, chains; key order included)
 * or fails with the same error (code, message, field, hint) whether its common lines are read
 * the quick way or the general way (splitLine, parseIptables, normalizeRule). Lines are drawn
 * from the common shape and from near misses around it: other words and values, repeats, blanks
 * and tabs, CR, quotes, counter prefixes, whitespace trim() takes but splitLine does not, IPv6.
 */
import test from 'ava';
import fc from 'fast-check';
import { parseRestore } from '../../src/cli/fronts/restore-format.js';
import { quickLine, quickRestoreLine } from '../../src/cli/fronts/restore-quick.js';
import { normalizeRules } from '../../src/encode.js';
import { normalizeRule } from '../../src/normalize.js';

const value = fc.constantFrom(
  '10.0.0.1', '10.0.0.0/8', '10.1.2.3/8', '0.0.0.0/0', '10.0.0.1/32', '10.1.2.3/255.255.0.0', 'fd00::1', '::/0', '300.1.1.1', '10.0.0.1/33',
  '010.0.0.1', '10.0.0.1/033', '10.0.0.1,10.0.0.2', '1.2.3', '1.2.3.4.5', 'eth0', 'eth+', '+', 'e+x', '.', '..', 'a/b', 'a:b', 'lo',
  'fifteencharsxxx', 'sixteencharsxxxx', '-x', '!', '1', '0x1', '0x1/0xff', '0xffffffff', '0x100000000', '999999999', '4294967295',
  '0XFF', '0x', '0xg', '1/2/3', '0/0', '0x10/0x10', '-1', 'raw', 'mangle', 'PREROUTING', 'OUTPUT', 'INPUT', 'FOO', 'MARK', 'ACCEPT', 'RETURN',
  '"a b"', '"x', 'caf\u00e9', '[0:0]', '[1:2]');
const option = fc.constantFrom(
  '-t', '-A', '-I', '-N', '-s', '-d', '-i', '-o', '-j', '--set-mark', '--set-xmark', '--and-mark', '--or-mark', '--xor-mark', '--set-marks',
  '--source', '--src', '--in-interface', '--jump', '--table', '--append', '-p', '-m', '!', '-s10.0.0.1', '--source=10.0.0.1', '--set-mark=1',
  '-c', '--mask', '2', 'MARK', 'PREROUTING', '[0:0]', '-');
const addr = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('10.0.0.1', '10.0.0.0/8', '10.0.0.1/32', '192.168.1.7/24', '0.0.0.0/0', '255.255.255.255') }, { weight: 1, arbitrary: value });
const dev = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('eth0', 'eth+', '+', 'lo', 'veth1') }, { weight: 1, arbitrary: value });
const mark = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('1', '0x1', '0x1/0xff', '0xffffffff', '0xdeadbeef', '42', '0x10/0x10', '0xF0/0x0F', '0') }, { weight: 1, arbitrary: value });
// spaces as iptables-save writes them, now and then more; a tab is splitLine's (the quick path declines it)
const blank = fc.oneof({ weight: 40, arbitrary: fc.constant(' ') }, { weight: 4, arbitrary: fc.constant('  ') }, { weight: 1, arbitrary: fc.constantFrom('\t', ' \t ') });
const edge = fc.oneof({ weight: 12, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '\t', '\r', '\u00a0', '\v', '\ufeff') });

/** a common rule line (field order shuffled), then a few words changed, dropped or added, joined by blanks */
const ruleLine = fc.record({
  op: fc.constantFrom('-A', '-A', '-A', '-I'), chain: fc.constantFrom('PREROUTING', 'OUTPUT', 'PREROUTING', 'OUTPUT', 'INPUT'),
  src: fc.option(addr, { nil: undefined, freq: 3 }), dst: fc.option(addr, { nil: undefined, freq: 2 }),
  // -i is PREROUTING's, -o OUTPUT's: one of them, mostly, so that most lines can be taken
  iif: fc.option(dev, { nil: undefined, freq: 2 }), oif: fc.option(dev, { nil: undefined, freq: 2 }), oneDev: fc.boolean(),
  markOp: fc.constantFrom('--set-mark', '--set-mark', '--set-xmark', '--and-mark', '--or-mark', '--xor-mark'), mark,
  order: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  edits: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'drop', 'insert'), fc.oneof(option, value)), { minLength: 1, maxLength: 2 }) }),
  seps: fc.array(blank, { minLength: 20, maxLength: 20 }), lead: edge, trail: edge,
}).map((l) => {
  const pairs: string[][] = [];
  if (l.src !== undefined) pairs.push(['-s', l.src]);
  if (l.dst !== undefined) pairs.push(['-d', l.dst]);
  const out = l.chain === 'OUTPUT';
  if (l.iif !== undefined && (!l.oneDev || !out)) pairs.push(['-i', l.iif]);
  if (l.oif !== undefined && (!l.oneDev || out)) pairs.push(['-o', l.oif]);
  pairs.push(['-j', 'MARK', l.markOp, l.mark]);
  // the target's words stay together, so the order seldom breaks -j before --set-mark
  const sorted = pairs.map((p, i) => ({ p, k: l.order[i % 4] })).sort((a, b) => a.k - b.k).map((x) => x.p);
  const w = [l.op, l.chain, ...sorted.flat()];
  for (const [at, how, word] of l.edits) {
    const i = at % (w.length + 1);
    if (how === 'replace' && i < w.length) w[i] = word;
    else if (how === 'drop' && i < w.length) w.splice(i, 1);
    else w.splice(i, 0, word);
  }
  return l.lead + w.map((x, i) => (i === 0 ? x : l.seps[i % l.seps.length] + x)).join('') + l.trail;
});
const otherLine = fc.constantFrom(':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [3:4]', ':MYCHAIN - [0:0]', '-N MINE', '# a comment', '', 'COMMIT', '*raw',
  '-A MYCHAIN -j MARK --set-mark 1', '-A PREROUTING -j MYCHAIN', '[1:2] -A PREROUTING -j MARK --set-mark 1', '-t raw -A PREROUTING -j MARK --set-mark 1');
const file = fc.record({
  table: fc.constantFrom('raw', 'mangle'),
  lines: fc.array(fc.oneof({ weight: 6, arbitrary: ruleLine }, { weight: 1, arbitrary: otherLine }), { minLength: 1, maxLength: 4 }),
  eol: fc.constantFrom('\n', '\n', '\r\n'), commit: fc.constantFrom(true, true, true, false),
  family: fc.constantFrom('ip' as const, 'ip' as const, 'ip' as const, 'ip6' as const), counters: fc.boolean(),
}).map((f) => ({ ...f, text: [`*${f.table}`, ...f.lines, ...(f.commit ? ['COMMIT', ''] : [])].join(f.eol) }));

type Outcome = { plan: string } | { error: { name: string; code: unknown; message: string; field: unknown; hint: unknown } };
/** the plan as JSON (without its rules when `inputs` is false, which leaves them out), or the error */
function outcome(text: string, family: 'ip' | 'ip6', counters: boolean, quickLines: boolean, inputs = true): Outcome {
  try {
    const p = parseRestore(text, family, { counters, quickLines, inputs });
    return { plan: JSON.stringify(inputs ? p : { ...p, rules: p.rules.length === 0 ? 'left out' : p.rules }) };
  } catch (e) {
    const x = e as { name: string; code: unknown; message: string; field: unknown; hint: unknown };
    return { error: { name: x.name, code: x.code, message: x.message, field: x.field, hint: x.hint } };
  }
}

test('quick lines: a file gives the same plan, or the same error, read quick or general (and without inputs, the same less its rules)', (t) => {
  let taken = 0, declined = 0;
  fc.assert(fc.property(file, (f) => {
    for (const l of f.lines) {
      if (quickRestoreLine(l, 0, l.length, f.table, f.family)) taken++; else declined++;
    }
    const general = outcome(f.text, f.family, f.counters, false);
    t.deepEqual(outcome(f.text, f.family, f.counters, true), general, JSON.stringify(f.text));
    // without inputs: the same plan less its rules, or the same error
    const lean = outcome(f.text, f.family, f.counters, true, false);
    t.deepEqual(lean, 'plan' in general ? { plan: JSON.stringify({ ...JSON.parse(general.plan), rules: 'left out' }) } : general, JSON.stringify(f.text));
    return true;
  }), { numRuns: 30_000, seed: 20261203 });
  t.log(`quick took ${taken}, declined ${declined}`);
  t.true(taken > 5_000 && declined > 5_000, `quick took ${taken} lines and declined ${declined}: the generator no longer exercises both`);
});

test('quick lines: each line it takes is the general path\'s rule and normalized rule, key order included', (t) => {
  fc.assert(fc.property(ruleLine, fc.constantFrom('raw' as const, 'mangle' as const), fc.constantFrom('ip' as const, 'ip6' as const), (l, table, family) => {
    if (!quickRestoreLine(l, 0, l.length, table, family)) return true;
    const got = JSON.stringify({ rules: [quickLine.rule], normalized: [quickLine.normalized] });
    const plan = parseRestore(`*${table}\n${l}\nCOMMIT\n`, family, { quickLines: false });
    t.is(got, JSON.stringify({ rules: plan.rules, normalized: plan.normalized }), l);
    t.deepEqual(quickLine.rule, plan.rules[0]);
    t.deepEqual(quickLine.normalized, plan.normalized[0]);
    return true;
  }), { numRuns: 20_000, seed: 20261204 });
});

test('quick lines: the plain common lines are taken, inside a longer text too', (t) => {
  const lines = ['-A PREROUTING -s 10.0.0.1/32 -j MARK --set-mark 0x1', '-I OUTPUT -d 10.0.0.0/8 -o eth0 -j MARK --or-mark 4',
    '-A PREROUTING -i eth+ -j MARK --set-xmark 0x10/0xff', '-A PREROUTING -j MARK --set-mark 1 -s 10.0.0.7'];
  const text = `*raw\n${lines.join('\r\n')}\r\nCOMMIT\n`;
  let from = text.indexOf('\n') + 1;
  for (const l of lines) {
    t.true(quickRestoreLine(text, from, from + l.length, 'raw', 'ip'), l);
    from += l.length + 2;
  }
  t.deepEqual(parseRestore(text, 'ip'), parseRestore(text, 'ip', { quickLines: false }));
});

test('a plan of quick lines only is remembered as normalized: normalizeRules gives what normalizeRule gives, and the plan cannot change', (t) => {
  const text = '*raw\n-A PREROUTING -s 10.0.0.1/32 -j MARK --set-mark 0x1\n-I PREROUTING -d 10.0.0.0/8 -i eth0 -j MARK --set-xmark 0x1/0xff\nCOMMIT\n*mangle\n-A OUTPUT -o lo -j MARK --xor-mark 4\nCOMMIT\n';
  const plan = parseRestore(text, 'ip');
  const again = normalizeRules(plan.rules);
  t.is(JSON.stringify(again), JSON.stringify(plan.rules.map((r) => normalizeRule(r))));
  t.not(again, plan.normalized); // a copy of the list: the caller may change it
  t.throws(() => { (plan.rules[0] as { mark?: number }).mark = 2; }, { instanceOf: TypeError });
  t.throws(() => { (plan.normalized[0].src as { address: string }).address = '10.9.9.9'; }, { instanceOf: TypeError });
  t.throws(() => { (plan.rules as unknown[]).push({}); }, { instanceOf: TypeError });
  // a plan with a line read the general way is normalized again by an add, as any list is
  const mixed = parseRestore('*raw\n-A PREROUTING -p tcp --dport 22 -j MARK --set-mark 1\n-A PREROUTING -s 10.0.0.1 -j MARK --set-mark 2\nCOMMIT\n', 'ip');
  t.false(Object.isFrozen(mixed.rules));
  t.is(JSON.stringify(normalizeRules(mixed.rules)), JSON.stringify(mixed.normalized));
});
