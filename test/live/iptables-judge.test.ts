/**
 * The kernel as judge for the iptables grammar: each line goes through `pktmark
 * iptables-restore` (one process, one batch) in one namespace, and its nft translation through
 * the real `nft -f` in a twin; `nft -j list ruleset` must show the same expressions, chain by
 * chain, and `list` must decode every rule (none left raw). `iptables-translate` has no
 * translation for some of these in an inet table, so the nft text is written beside each line.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../cli/cli.js';
import { liveTest, uniqueName, withNetns, type Netns } from '../helpers/netns.js';

/** [iptables line (after -A CHAIN), nft statements, nft chain] */
const CASES: readonly (readonly [string, string, string])[] = [
  ['PREROUTING -p tcp --dport 1024: -j MARK --set-mark 1', 'tcp dport 1024-65535 counter meta mark set 0x1', 'prerouting'],
  ['PREROUTING -p udp --sport :1023 -j MARK --set-mark 2', 'udp sport 0-1023 counter meta mark set 0x2', 'prerouting'],
  ['PREROUTING -p tcp ! --dport 22 -j MARK --set-mark 3', 'tcp dport != 22 counter meta mark set 0x3', 'prerouting'],
  ['PREROUTING -p tcp ! --dport 1000:2000 -j MARK --set-mark 4', 'tcp dport != 1000-2000 counter meta mark set 0x4', 'prerouting'],
  ['PREROUTING -p tcp -m multiport --dports 80,443 -j MARK --set-mark 5', 'tcp dport { 80, 443 } counter meta mark set 0x5', 'prerouting'],
  ['PREROUTING -p udp -m multiport --sports 53,1000:2000,5353 -j MARK --set-mark 6', 'udp sport { 53, 1000-2000, 5353 } counter meta mark set 0x6', 'prerouting'],
  ['PREROUTING -p tcp -m multiport ! --dports 80,443 -j MARK --set-mark 7', 'tcp dport != { 80, 443 } counter meta mark set 0x7', 'prerouting'],
  ['PREROUTING -s 10.11.12.13/255.0.0.0 -j MARK --set-mark 8', 'ip saddr 10.0.0.0/8 counter meta mark set 0x8', 'prerouting'],
  ['PREROUTING -s 10.11.12.13/255.0.255.0 -j MARK --set-mark 9', 'ip saddr & 255.0.255.0 == 10.0.12.0 counter meta mark set 0x9', 'prerouting'],
  ['PREROUTING -m mark ! --mark 0/0xff -j MARK --set-mark 10', 'meta mark and 0xff != 0x0 counter meta mark set 0xa', 'prerouting'],
  ['PREROUTING -m mark --mark 0x5 -j MARK --set-mark 11', 'meta mark 0x5 counter meta mark set 0xb', 'prerouting'],
  ['PREROUTING -m connmark --mark 0x1/0xf -j MARK --set-mark 12', 'ct mark and 0xf == 0x1 counter meta mark set 0xc', 'mangle_prerouting'],
  ['OUTPUT -m connmark ! --mark 0x2 -j MARK --set-mark 13', 'ct mark != 0x2 counter meta mark set 0xd', 'output'],
];

type JsonRule = { chain: string; expr: unknown[] };
const rules = (ns: Netns): JsonRule[] => ns.ruleset().nftables.flatMap((o) => (o.rule ? [o.rule as JsonRule] : []))
  .map(({ chain, expr }) => ({ chain, expr }));

const TWIN_SETUP = [
  'add table inet pktmark { comment "pktmark" ; }',
  'add chain inet pktmark prerouting { type filter hook prerouting priority raw ; }',
  'add chain inet pktmark mangle_prerouting { type filter hook prerouting priority mangle ; }',
  'add chain inet pktmark output { type route hook output priority mangle ; }',
];

liveTest(`kernel judge: ${CASES.length} iptables grammar elements (ranges, negation, multiport, masks, mark/connmark) equal their nft translation`, async (t) => {
  // connmark lines need the mangle table: -t raw has no conntrack yet
  const raw = CASES.filter((c) => c[2] === 'prerouting');
  const mangle = CASES.filter((c) => c[2] !== 'prerouting');
  const file = join(tmpdir(), `${uniqueName('pmij')}.rules`);
  writeFileSync(file, ['*raw', ...raw.map((c) => `-A ${c[0]}`), 'COMMIT', '*mangle', ...mangle.map((c) => `-A ${c[0]}`), 'COMMIT', ''].join('\n'));
  await withNetns(async (mine, twin) => {
    const r = await cli(['--netns', mine.name, 'iptables-restore', file]);
    t.is(r.code, 0, r.stderr);
    // iptables rules are IPv4 only: `meta nfproto ipv4` unless an ip address match implies it
    const v4 = (s: string): string => (s.startsWith('ip ') ? s : `meta nfproto ipv4 ${s}`);
    twin.nftFile([...TWIN_SETUP, ...[...raw, ...mangle].map((c) => `add rule inet pktmark ${c[2]} ${v4(c[1])}`)].join('\n') + '\n');
    const got = rules(mine);
    const want = rules(twin);
    t.is(got.length, CASES.length);
    want.forEach((w, i) => t.deepEqual(got[i], w, `${[...raw, ...mangle][i][0]}`));
    const list = JSON.parse((await cli(['--netns', mine.name, '--json', 'list'])).stdout) as { rules: { decoded: boolean; text: string }[] };
    t.true(list.rules.every((x) => x.decoded), list.rules.filter((x) => !x.decoded).map((x) => x.text).join('\n'));
    // iptables-save prints the lines back (multiport lists as -m multiport)
    const saved = (await cli(['--netns', mine.name, 'iptables-save'])).stdout;
    t.regex(saved, /-m multiport --dports 80,443 /);
    t.regex(saved, /-m multiport ! --dports 80,443 /);
    t.regex(saved, /--sports 53,1000:2000,5353 /);
  }, 2);
});
