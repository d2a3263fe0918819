/**
 * The kernel as judge for CONNMARK and user-defined chains: an iptables-restore file through
 * `pktmark iptables-restore` in one namespace, its nft translation through the real `nft -f` in a
 * twin; `nft -j list ruleset` must show the same expressions chain by chain, and `list` must
 * decode every rule. The masked copies (two-register bitwise, Linux 6.13+) have no nft 1.0.6
 * syntax and nft 1.0.6 cannot print them: they are judged by what the kernel dumps back (decoded
 * into the same statement) here and by packets in test/packets/connmark-packets.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../cli/cli.js';
import { liveTest, uniqueName, withNetns, type Netns } from '../helpers/netns.js';

/** [iptables line (after -A), nft statements, nft chain] — all in *mangle */
const CASES: readonly (readonly [string, string, string])[] = [
  ['PREROUTING -j CONNMARK --set-mark 0x1', 'counter ct mark set 0x1', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --set-xmark 0x5/0xff', 'counter ct mark set ct mark and 0xffffff00 xor 0x5', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --or-mark 0x100', 'counter ct mark set ct mark and 0xfffffeff xor 0x100', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --save-mark', 'counter ct mark set meta mark', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --restore-mark', 'counter meta mark set ct mark', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --save-mark --nfmask 0xff', 'counter ct mark set meta mark and 0xff', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --restore-mark --ctmask 0xff00', 'counter meta mark set ct mark and 0xff00', 'mangle_prerouting'],
  ['PREROUTING -j CONNMARK --save-mark --left-shift-mark 8', 'counter ct mark set meta mark << 8', 'mangle_prerouting'],
  ['OUTPUT -j CONNMARK --restore-mark --right-shift-mark 4', 'counter meta mark set ct mark >> 4', 'output'],
  ['PREROUTING -p udp -j FOO', 'meta l4proto udp counter jump mangle.FOO', 'mangle_prerouting'],
  ['FOO -s 10.0.0.1 -j RETURN', 'ip saddr 10.0.0.1 counter return', 'mangle.FOO'],
  ['FOO -j MARK --set-mark 0x7', 'counter meta mark set 0x7', 'mangle.FOO'],
];

type JsonRule = { chain: string; expr: unknown[] };
/** rules grouped by chain (creation order of chains may differ), in order within each chain */
const rules = (ns: Netns): JsonRule[] => ns.ruleset().nftables.flatMap((o) => (o.rule ? [o.rule as JsonRule] : []))
  .map(({ chain, expr }) => ({ chain, expr })).sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));

const TWIN_SETUP = [
  'add table inet pktmark { comment "pktmark" ; }',
  'add chain inet pktmark mangle_prerouting { type filter hook prerouting priority mangle ; }',
  'add chain inet pktmark output { type route hook output priority mangle ; }',
  'add chain inet pktmark mangle.FOO',
];

const file = (lines: readonly string[]): string => {
  const f = join(tmpdir(), `${uniqueName('pmcj')}.rules`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
};

liveTest(`kernel judge: ${CASES.length} CONNMARK and user-chain lines equal their nft translation`, async (t) => {
  await withNetns(async (mine, twin) => {
    const r = await cli(['--netns', mine.name, 'iptables-restore', file(['*mangle', ':FOO - [0:0]', ...CASES.map((c) => `-A ${c[0]}`), 'COMMIT'])]);
    t.is(r.code, 0, r.stderr);
    const v4 = (s: string): string => (s.startsWith('ip ') ? s : `meta nfproto ipv4 ${s}`);
    twin.nftFile([...TWIN_SETUP, ...CASES.map((c) => `add rule inet pktmark ${c[2]} ${v4(c[1])}`)].join('\n') + '\n');
    const got = rules(mine);
    const want = rules(twin);
    t.is(got.length, CASES.length);
    t.deepEqual(got, want);
    const list = JSON.parse((await cli(['--netns', mine.name, '--json', 'list'])).stdout) as { rules: { decoded: boolean; text: string }[] };
    t.is(list.rules.length, CASES.length);
    t.true(list.rules.every((x) => x.decoded), list.rules.filter((x) => !x.decoded).map((x) => x.text).join('\n'));
    // save → restore → save prints the same text
    const saved = (await cli(['--netns', mine.name, 'iptables-save'])).stdout;
    t.regex(saved, /^:FOO - \[0:0\]$/m);
    t.regex(saved, /^-A FOO -s 10\.0\.0\.1\/32 -j RETURN$/m);
    t.is((await cli(['--netns', mine.name, 'iptables-restore', file([saved])])).code, 0);
    t.is((await cli(['--netns', mine.name, 'iptables-save'])).stdout, saved);
  }, 2);
});

liveTest('kernel judge: masked --save-mark/--restore-mark are accepted and dump back as the same statements (nft 1.0.6 cannot print them)', async (t) => {
  await withNetns(async (ns) => {
    const lines = [
      '-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00',
      '-A PREROUTING -j CONNMARK --restore-mark --mask 0xff',
      '-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff00 --right-shift-mark 8',
    ];
    const r = await cli(['--netns', ns.name, 'iptables-restore', file(['*mangle', ...lines, 'COMMIT'])]);
    t.is(r.code, 0, r.stderr);
    const saved = (await cli(['--netns', ns.name, 'iptables-save'])).stdout;
    t.regex(saved, /^-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00$/m);
    t.regex(saved, /^-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff$/m);
    t.regex(saved, /^-A OUTPUT -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff00 --right-shift-mark 8$/m);
    const list = (await cli(['--netns', ns.name, 'list'])).stdout;
    t.regex(list, /save 0xff→0xff00 /);
    t.regex(list, /restore 0xff00→0xff >>8 /);
    const json = JSON.parse((await cli(['--netns', ns.name, '--json', 'list'])).stdout) as { rules: { decoded: boolean; text: string; connmark: unknown }[] };
    t.true(json.rules.every((x) => x.decoded));
    t.regex(json.rules[0].text, /counter ct mark set ct mark and 0xffff00ff xor \(meta mark and 0xff\)$/);
    t.deepEqual(json.rules[2].connmark, { op: 'restore', nfmask: '0xff', ctmask: '0xff00', shift: { dir: 'right', bits: 8 } });
  });
});

liveTest('user chains: -N, a jump to a missing chain, -X of a chain still jumped to, -F CHAIN, -X', async (t) => {
  await withNetns(async (ns) => {
    const run = (...a: string[]) => cli(['--netns', ns.name, 'iptables', '-t', 'mangle', ...a]);
    const before = JSON.stringify(ns.ruleset());
    const missing = await run('-A', 'PREROUTING', '-j', 'NOPE');
    t.is(missing.code, 1);
    t.regex(missing.stderr, /NOT_FOUND jump: -j NOPE/);
    t.is(JSON.stringify(ns.ruleset()), before, 'nothing was applied');
    t.is((await run('-N', 'FOO')).code, 0);
    t.regex((await run('-N', 'FOO')).stderr, /already exists/);
    t.is((await run('-A', 'PREROUTING', '-j', 'FOO')).code, 0);
    t.is((await run('-A', 'FOO', '-j', 'MARK', '--set-mark', '1')).code, 0);
    const busy = await run('-X', 'FOO');
    t.regex(busy.stderr, /BUSY chain: -X FOO: chain FOO holds 1 rule/);
    t.is((await run('-F', 'FOO')).code, 0);
    t.regex((await run('-X', 'FOO')).stderr, /still jumped to by nft:mangle_prerouting:/);
    t.is((await run('-D', 'PREROUTING', '1')).code, 0);
    t.is((await run('-X', 'FOO')).code, 0);
    t.false(JSON.stringify(ns.ruleset()).includes('mangle.FOO'));
  });
});

liveTest('iptables-restore -c starts each rule counter at its [packets:bytes]; iptables-save -c prints them back', async (t) => {
  await withNetns(async (ns) => {
    const text = ['*mangle', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':FOO - [0:0]',
      '[7:420] -A PREROUTING -j FOO', '[0:0] -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff', '[12345678901:98765432109876] -A FOO -j MARK --set-xmark 0x1/0xffffffff', 'COMMIT'];
    const r = await cli(['--netns', ns.name, 'iptables-restore', '-c', file(text)]);
    t.is(r.code, 0, r.stderr);
    const saved = (await cli(['--netns', ns.name, 'iptables-save', '-c'])).stdout.split('\n');
    for (const l of text.slice(4, 7)) t.true(saved.includes(l), l);
    const counters = JSON.parse(ns.nft('-j', 'list', 'chain', 'inet', 'pktmark', 'mangle.FOO')) as { nftables: { rule?: { expr: { counter?: { packets: number; bytes: number } }[] } }[] };
    t.deepEqual(counters.nftables.flatMap((o) => o.rule?.expr ?? []).find((e) => e.counter)?.counter, { packets: 12345678901, bytes: 98765432109876 }, 'the kernel holds them (nft -j)');
  });
});
