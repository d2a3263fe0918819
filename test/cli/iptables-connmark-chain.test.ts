/**
 * The CONNMARK target and user-defined chains in the iptables grammar, without root: lines
 * from libxt_CONNMARK.t with the nft statements they become, the library's connmark shapes,
 * refusals with their code and position, and iptables-restore's chain rules by line.
 */
import test from 'ava';
import { parseIptables } from '../../src/cli/fronts/iptables.js';
import { parseRestore } from '../../src/cli/fronts/restore-format.js';
import { explainNft } from '../../src/backends/nft/explain.js';
import { ruleToExprs, exprsToRule } from '../../src/backends/nft/rule.js';
import { chainOf } from '../../src/backends/nft/chains.js';
import { parseRuleId } from '../../src/backends/nft/index.js';
import { normalizeRule } from '../../src/normalize.js';
import { ruleArgs } from '../../src/cli/fronts/save-format.js';
import { PktmarkError, type ErrorCode } from '../../src/errors.js';

const parse = (line: string) => parseIptables(line.split(' ').filter(Boolean), 'ip');
const nft = (line: string): string => {
  const c = parse(line);
  if (!('rule' in c)) throw new Error('not a rule command');
  return explainNft(normalizeRule(c.rule), 't').replace(/^nft add rule inet t /, '');
};

const V4 = 'meta nfproto ipv4 counter';
const GOOD: readonly [string, string][] = [
  ['-t mangle -A PREROUTING -j CONNMARK --set-mark 0', `mangle_prerouting ${V4} ct mark set 0x0`],
  ['-t mangle -A PREROUTING -j CONNMARK --set-mark 4294967295', `mangle_prerouting ${V4} ct mark set 0xffffffff`],
  ['-t mangle -A PREROUTING -j CONNMARK --set-xmark 0xffffffff/0', `mangle_prerouting ${V4} ct mark set ct mark and 0xffffffff xor 0xffffffff`],
  ['-t mangle -A PREROUTING -j CONNMARK --set-mark 0x10/0xf0', `mangle_prerouting ${V4} ct mark set ct mark and 0xffffff0f xor 0x10`],
  ['-t mangle -A PREROUTING -j CONNMARK --and-mark 0xff', `mangle_prerouting ${V4} ct mark set ct mark and 0xff xor 0x0`],
  ['-t mangle -A PREROUTING -j CONNMARK --or-mark 0x4', `mangle_prerouting ${V4} ct mark set ct mark and 0xfffffffb xor 0x4`],
  ['-t mangle -A PREROUTING -j CONNMARK --xor-mark 0x4', `mangle_prerouting ${V4} ct mark set ct mark and 0xffffffff xor 0x4`],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark', `mangle_prerouting ${V4} ct mark set meta mark`],
  ['-t mangle -A PREROUTING -j CONNMARK --restore-mark', `mangle_prerouting ${V4} meta mark set ct mark`],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark --nfmask 0xff', `mangle_prerouting ${V4} ct mark set meta mark and 0xff`],
  ['-t mangle -A PREROUTING -j CONNMARK --restore-mark --ctmask 0xff', `mangle_prerouting ${V4} meta mark set ct mark and 0xff`],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark --mask 0xff', `mangle_prerouting ${V4} ct mark set ct mark and 0xffffff00 xor (meta mark and 0xff)`],
  ['-t mangle -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff00', `mangle_prerouting ${V4} meta mark set meta mark and 0xffffff00 xor (ct mark and 0xff00)`],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark --left-shift-mark 8', `mangle_prerouting ${V4} ct mark set meta mark << 8`],
  ['-t mangle -A PREROUTING -j CONNMARK --restore-mark --ctmask 0xff00 --right-shift-mark 8', `mangle_prerouting ${V4} meta mark set (ct mark and 0xff00) >> 8`],
  ['-t mangle -A OUTPUT --jump=CONNMARK --restore-m', `output ${V4} meta mark set ct mark`],
  ['-t mangle -A PREROUTING -j MYCHAIN', `mangle_prerouting ${V4} jump mangle.MYCHAIN`],
  ['-t raw -A MYCHAIN -s 10.0.0.1 -j RETURN', 'raw.MYCHAIN ip saddr 10.0.0.1 counter return'],
  ['-t mangle -A my-chain+ -j MARK --set-mark 1', `"mangle.my-chain+" ${V4} meta mark set 0x1`],
];
for (const [line, want] of GOOD) {
  test(`parses: iptables ${line}`, (t) => { t.is(nft(line), want); });
}

const BAD: readonly [string, ErrorCode, RegExp][] = [
  ['-t mangle -A PREROUTING -j CONNMARK', 'INVALID_OPTION', /at position 6: No operation specified/],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark --restore-mark', 'INVALID_OPTION', /'--restore-mark' at position 8: CONNMARK takes one operation/],
  ['-t mangle -A PREROUTING -j CONNMARK --set-mark 1 --ctmask 0xff', 'INVALID_OPTION', /'--ctmask' at position 9 applies to --save-mark and --restore-mark only/],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark --mask 1 --nfmask 2', 'INVALID_OPTION', /'--nfmask' at position 10: --mask cannot be combined/],
  ['-t mangle -A PREROUTING -j CONNMARK --save-mark --left-shift-mark 32', 'INVALID_OPTION', /at position 8 is not a bit count 0-31/],
  ['-t mangle -A PREROUTING -j CONNMARK --and-mark 1/2', 'INVALID_MARK', /at position 7 takes a value without \/mask/],
  ['-t mangle -A PREROUTING -j CONNMARK --set-mark 0x100000000', 'MARK_RANGE', /outside/],
  ['-t mangle -A PREROUTING -j DROP', 'UNSUPPORTED', /unsupported word 'DROP' at position 6/],
  ['-t mangle -A PREROUTING -j DNAT', 'UNSUPPORTED', /unsupported word 'DNAT' at position 6/],
  ['-A MYCHAIN -j RETURN', 'INVALID_OPTION', /user-defined chain MYCHAIN needs -t raw or -t mangle/],
  ['-t mangle -N PREROUTING', 'INVALID_OPTION', /PREROUTING is a built-in chain/],
  ['-t mangle -N INPUT', 'UNSUPPORTED', /unsupported word 'INPUT' at position 4/],
  ['-t mangle -N A23456789012345678901234567890', 'INVALID_OPTION', /at position 4: .*too long/],
  ['-t mangle -N RETURN', 'INVALID_OPTION', /built-in chain or a target/],
  ['-t mangle -N a:b', 'INVALID_OPTION', /at position 4: chain name "a:b"/],
  ['-t mangle -N FOO -s 1.2.3.4', 'INVALID_OPTION', /-N at position 3 takes no rule options/],
];
for (const [line, code, msg] of BAD) {
  test(`refused: iptables ${line}`, (t) => {
    const e = t.throws(() => { const c = parse(line); if ('rule' in c) normalizeRule(c.rule); }) as PktmarkError;
    t.true(e instanceof PktmarkError, String(e));
    t.is(e.code, code, e.message);
    t.regex(e.message, msg);
  });
}

test('chain commands: -N, -X, -F CHAIN, -L CHAIN', (t) => {
  t.deepEqual(parse('-t mangle -N FOO'), { op: 'new-chain', table: 'mangle', chain: 'FOO' });
  t.deepEqual(parse('-t raw -X FOO'), { op: 'delete-chain', table: 'raw', chain: 'FOO' });
  t.deepEqual(parse('-t raw -X'), { op: 'delete-chain', table: 'raw' });
  t.deepEqual(parse('-t mangle -F FOO'), { op: 'flush', table: 'mangle', chain: 'FOO' });
  t.deepEqual(parse('-t mangle -L FOO -v'), { op: 'list', table: 'mangle', chain: 'FOO', verbose: true });
});

test('the library: connmark shapes normalize, encode, decode back, and save as iptables prints them', (t) => {
  const cases: readonly [Parameters<typeof normalizeRule>[0], string][] = [
    [{ hook: 'prerouting', table: 'mangle', connmark: 'save' }, '-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff'],
    [{ hook: 'output', connmark: { op: 'restore', mask: 0xff } }, '-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff'],
    [{ hook: 'prerouting', table: 'mangle', connmark: { op: 'set', value: '0x5/0xff' } }, '-j CONNMARK --set-xmark 0x5/0xff'],
    [{ hook: 'prerouting', table: 'mangle', connmark: { op: 'save', nfmask: '0xff00', ctmask: 0xff, shift: { dir: 'right', bits: 8 } } }, '-j CONNMARK --save-mark --nfmask 0xff00 --ctmask 0xff --right-shift-mark 8'],
    [{ chain: 'FOO', table: 'raw', jump: 'RETURN' }, '-j RETURN'],
    [{ hook: 'prerouting', jump: 'FOO' }, '-j FOO'],
  ];
  for (const [input, saved] of cases) {
    const r = normalizeRule({ via: 'nft', ...input });
    t.is(r.mark as number, 0, 'a connmark or jump rule leaves the packet mark alone');
    t.is(r.mask as number, 0);
    t.deepEqual(exprsToRule(ruleToExprs(r).map((x) => x.expr), chainOf(r)), r, JSON.stringify(input));
    t.is(ruleArgs(r), saved);
  }
  t.is(chainOf(normalizeRule({ via: 'nft', chain: 'FOO', table: 'raw', jump: 'RETURN' })), 'raw.FOO');
  t.deepEqual(parseRuleId('nft:mangle.FOO:12'), { chain: 'mangle.FOO', handle: 12n });
  t.throws(() => parseRuleId('nft:filter.FOO:12'), { code: 'INVALID_ID' });
  for (const [bad, field] of [
    [{ connmark: 'save', mark: 1 }, 'mark'], [{ connmark: 'copy' }, 'connmark'], [{ connmark: { op: 'copy' } }, 'connmark.op'], [{ connmark: { op: 'save', shift: { dir: 'up', bits: 1 } } }, 'connmark.shift'],
    [{ connmark: { op: 'set' } }, 'connmark.value'], [{ chain: 'FOO', jump: 'RETURN' }, 'table'], [{ chain: 'FOO', table: 'raw', hook: 'output', jump: 'RETURN' }, 'hook'],
    [{ jump: 'FOO', connmark: 'save' }, 'jump'], [{ jump: 'DROP' }, 'jump'],
  ] as const) {
    const e = t.throws(() => normalizeRule({ via: 'nft', ...bad } as Parameters<typeof normalizeRule>[0])) as PktmarkError;
    t.is(e.field, field, `${JSON.stringify(bad)}: ${e.message}`);
  }
  t.throws(() => normalizeRule({ via: 'tc', dev: 'eth0', connmark: 'save' } as Parameters<typeof normalizeRule>[0]), { code: 'INVALID_OPTION' });
});

test('iptables-restore: user chains by :NAME or -N, jumps checked by line, counters with -c', (t) => {
  const p = parseRestore('*mangle\n:PREROUTING ACCEPT [0:0]\n:FOO - [3:4]\n-N BAR\n[1:2] -A PREROUTING -j FOO\n-A FOO -j BAR\n-A BAR -j RETURN\n-I FOO -j CONNMARK --save-mark\nCOMMIT\n', 'ip', { counters: true });
  t.deepEqual(p.chains, [{ table: 'mangle', name: 'FOO' }, { table: 'mangle', name: 'BAR' }]);
  t.is(p.rules.length, 4);
  t.deepEqual(p.rules[0].connmark, { op: 'save' }, '-I goes to the head');
  t.deepEqual(p.counters, [undefined, { packets: 1n, bytes: 2n }, undefined, undefined]);
  const bad: readonly [string, ErrorCode, RegExp][] = [
    ['*mangle\n-A PREROUTING -j FOO\n:FOO - [0:0]\nCOMMIT\n', 'NOT_FOUND', /^line 2: -j FOO: no chain or target FOO in \*mangle/],
    ['*mangle\n-A FOO -j RETURN\nCOMMIT\n', 'NOT_FOUND', /^line 2: chain FOO does not exist/],
    ['*raw\n:FOO - [0:0]\nCOMMIT\n*mangle\n-A PREROUTING -j FOO\nCOMMIT\n', 'NOT_FOUND', /^line 5: .*FOO in \*mangle/],
    ['*mangle\n:FOO - [0:0]\n-N FOO\nCOMMIT\n', 'INVALID_OPTION', /^line 3: chain FOO is declared twice/],
    ['*mangle\n:FOO - [x:0]\nCOMMIT\n', 'INVALID_OPTION', /^line 2: bad counters/],
    ['*mangle\n[1:2] -A PREROUTING -j RETURN\nCOMMIT\n', 'INVALID_OPTION', /^line 2: a counter prefix needs -c/],
  ];
  for (const [text, code, msg] of bad) {
    const e = t.throws(() => parseRestore(text, 'ip')) as PktmarkError;
    t.is(e.code, code, e.message);
    t.regex(e.message, msg);
  }
});
