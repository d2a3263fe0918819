/**
 * The quick path for the common rule line (src/cli/fronts/iptables-quick.ts) must never change a
 * result: every line it takes, getopt's full parse takes too and builds the same command, key
 * order included; every line the full parse refuses, it leaves alone (so the error is the full
 * parse's). Lines are drawn from the quick path's own words and from near misses around them
 * (glued and `=` values, negation, repeats, other chains and options, odd values and marks).
 */
import test from 'ava';
import fc from 'fast-check';
import { parseIptablesGetopt } from '../../src/cli/fronts/iptables-parse.js';
import { quickCommand } from '../../src/cli/fronts/iptables-quick.js';

const value = fc.constantFrom(
  '10.0.0.1', '10.0.0.0/8', '10.1.2.3/255.255.0.0', '10.1.2.3/255.0.255.0', 'fd00::1', '::/0', '300.1.1.1', '10.0.0.1/33', '',
  'eth0', 'eth+', 'averyveryverylongname', 'lo', '-x', '!', '1', '0x1', '0x1/0xff', '0xffffffff', '0x100000000', '-1', '1/0',
  '0x', '0X1F', '007', '1e3', ' 1', 'raw', 'mangle', 'nat', 'filter', 'PREROUTING', 'OUTPUT', 'INPUT', 'FOO', 'MARK', 'ACCEPT');
const option = fc.constantFrom(
  '-t', '-A', '-I', '-s', '-d', '-i', '-o', '-j', '--set-mark', '--set-xmark', '--and-mark', '--or-mark', '--xor-mark',
  '--source', '--src', '--destination', '--in-interface', '--out-interface', '--jump', '--table', '--append', '-p', '-m', '!',
  '-s10.0.0.1', '--source=10.0.0.1', '-ieth0', '--set-mark=1', '-c', '--mask', '2', 'MARK', 'PREROUTING');
const addr = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('10.0.0.1', '10.0.0.0/8', '10.0.0.1/32', '10.1.2.3/255.255.0.0', '10.1.2.3/255.0.255.0', 'fd00::1', '::/0', 'fd00::/64') }, { weight: 1, arbitrary: value });
const dev = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('eth0', 'eth+', 'lo', 'veth1') }, { weight: 1, arbitrary: value });
const mark = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('1', '0x1', '0x1/0xff', '0xffffffff', '0xdeadbeef', '42', '0x10/0x10') }, { weight: 1, arbitrary: value });
/** a common line, then a few words changed, dropped or added */
const line = fc.record({
  table: fc.constantFrom(undefined, 'raw', 'mangle', 'raw', 'nat'),
  op: fc.constantFrom('-A', '-I'), chain: fc.constantFrom('PREROUTING', 'OUTPUT', 'PREROUTING', 'OUTPUT', 'INPUT', 'FOO'),
  src: fc.option(addr, { nil: undefined }), dst: fc.option(addr, { nil: undefined }),
  iif: fc.option(dev, { nil: undefined }), oif: fc.option(dev, { nil: undefined }),
  markOp: fc.constantFrom('--set-mark', '--set-xmark', '--and-mark', '--or-mark', '--xor-mark'), mark,
  edits: fc.oneof(fc.constant([]), fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'drop', 'insert'), fc.oneof(option, value)), { minLength: 1, maxLength: 2 })),
  family: fc.constantFrom('ip' as const, 'ip' as const, 'ip6' as const),
}).map((l) => {
  const w: string[] = [];
  if (l.table) w.push('-t', l.table);
  w.push(l.op, l.chain);
  if (l.src !== undefined) w.push('-s', l.src);
  if (l.dst !== undefined) w.push('-d', l.dst);
  if (l.iif !== undefined) w.push('-i', l.iif);
  if (l.oif !== undefined) w.push('-o', l.oif);
  w.push('-j', 'MARK', l.markOp, l.mark);
  for (const [at, how, word] of l.edits) {
    const i = at % (w.length + 1);
    if (how === 'replace' && i < w.length) w[i] = word;
    else if (how === 'drop' && i < w.length) w.splice(i, 1);
    else w.splice(i, 0, word);
  }
  return { words: w, family: l.family };
});

const full = (words: readonly string[], family: 'ip' | 'ip6'): { ok: string } | { error: unknown } => {
  try { return { ok: JSON.stringify(parseIptablesGetopt(words, family)) }; } catch (e) { return { error: e }; }
};

test('quick path: every line it takes gives getopt\'s command exactly; it takes no line getopt refuses', (t) => {
  let taken = 0;
  fc.assert(fc.property(line, ({ words, family }) => {
    const q = quickCommand(words, family);
    if (q === undefined) return true;
    taken++;
    const f = full(words, family);
    if ('error' in f) throw new Error(`quick took ${JSON.stringify(words)}, getopt refuses it: ${String(f.error)}`);
    if (JSON.stringify(q) !== f.ok) throw new Error(`${JSON.stringify(words)}: quick ${JSON.stringify(q)} != getopt ${f.ok}`);
    return true;
  }), { numRuns: 20_000, seed: 20261202 });
  t.true(taken > 300, `the quick path took only ${taken} lines: the generator no longer exercises it`);
});

test('quick path: the plain common lines are taken', (t) => {
  for (const l of ['-A PREROUTING -s 10.0.0.1/32 -j MARK --set-mark 0x1', '-t mangle -I OUTPUT -d 10.0.0.0/8 -o eth0 -j MARK --or-mark 4',
    '-t raw -A PREROUTING -i eth+ -j MARK --set-xmark 0x10/0xff']) {
    const words = l.split(' ');
    t.deepEqual(JSON.parse(JSON.stringify(quickCommand(words, 'ip'))), JSON.parse(JSON.stringify(parseIptablesGetopt(words, 'ip'))), l);
  }
});
