/**
 * `pktmark iptables-restore` against the kernel: a file whose line 29 is bad leaves the ruleset
 * exactly as it was (one batch, nothing sent), and save → restore → save prints the same text.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../cli/cli.js';
import { liveTest, uniqueName, withNetns } from '../helpers/netns.js';

const file = (text: string): string => {
  const f = join(tmpdir(), `${uniqueName('pmrs')}.rules`);
  writeFileSync(f, text);
  return f;
};

/** 30 lines across *raw and *mangle; `bad` replaces line 29 when given. */
function thirty(bad?: string): string {
  const lines = ['*raw'];
  for (let i = 0; i < 12; i++) lines.push(`-A PREROUTING -s 10.1.0.${i + 1} -j MARK --set-mark 0x${(i + 1).toString(16)}`);
  lines.push('COMMIT', '*mangle');
  for (let i = 0; i < 13; i++) lines.push(`-A ${i % 2 ? 'OUTPUT' : 'PREROUTING'} -p tcp --dport ${1000 + i}:${2000 + i} -j MARK --set-xmark 0x${(i + 16).toString(16)}/0xff`);
  lines.push('-A PREROUTING -p udp -m multiport --dports 53,123 -j MARK --set-mark 0x99');
  lines.push('COMMIT');
  if (bad !== undefined) lines[28] = bad;
  return `${lines.join('\n')}\n`;
}

liveTest('iptables-restore: a bad line 29 is named and leaves the ruleset exactly as before', async (t) => {
  await withNetns(async (ns) => {
    const first = await cli(['--netns', ns.name, 'iptables-restore', file('*raw\n-A PREROUTING -s 10.9.9.9 -j MARK --set-mark 0x1\nCOMMIT\n')]);
    t.is(first.code, 0, first.stderr);
    const before = ns.nft('-j', 'list', 'ruleset');
    const good = thirty().split('\n');
    t.is(good.length - 1, 30);
    const r = await cli(['--netns', ns.name, 'iptables-restore', file(thirty('-A PREROUTING -p tcp --dport 70000 -j MARK --set-mark 1'))]);
    t.not(r.code, 0);
    t.regex(r.stderr, /line 29/);
    t.regex(r.stderr, /70000/);
    t.is(ns.nft('-j', 'list', 'ruleset'), before, 'nothing applied, nothing flushed');
  });
});

liveTest('iptables-restore: save → restore → save prints the same text', async (t) => {
  await withNetns(async (ns) => {
    const g = ['--netns', ns.name];
    t.is((await cli([...g, 'iptables-restore', file(thirty())])).code, 0);
    const s1 = await cli([...g, 'iptables-save']);
    t.is(s1.code, 0, s1.stderr);
    t.regex(s1.stdout, /\*raw/);
    t.regex(s1.stdout, /\*mangle/);
    const again = await cli([...g, 'iptables-restore', file(s1.stdout)]);
    t.is(again.code, 0, again.stderr);
    const s2 = await cli([...g, 'iptables-save']);
    const body = (s: string): string => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    t.is(body(s2.stdout), body(s1.stdout));
    // -t TABLE, as iptables-save: only that table's section
    for (const [args, table] of [[['-t', 'mangle'], 'mangle'], [['--table=raw'], 'raw']] as const) {
      const one = await cli([...g, 'iptables-save', ...args]);
      t.is(one.code, 0, one.stderr);
      const sections = one.stdout.split('\n').filter((l) => l.startsWith('*'));
      t.deepEqual(sections, [`*${table}`]);
      t.true(body(s1.stdout).includes(body(one.stdout)), `the ${table} section is the full save's`);
    }
    const rules = JSON.parse((await cli([...g, '--json', 'list'])).stdout) as { rules: unknown[] };
    t.is(rules.rules.length, 26, 'the restore replaced the rules, it did not add a second copy');
  });
});
