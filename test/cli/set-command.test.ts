/**
 * The CLI's address lists: `add --src @FILE`, `explain`/`--dry-run --hex` with it, errors that
 * name FILE:LINE, `set add|del ID ADDR…|@FILE`, and the `--json` list shape of a list rule.
 * In-process main(); the live part runs in a throwaway namespace.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { liveTest, withNetns } from '../helpers/netns.js';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => { out.push(l); }, err: (l: string) => { err.push(l); } } };
};
const dir = mkdtempSync(join(tmpdir(), 'pktmark-set-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };

test('explain --src @FILE: comments and blank lines skipped, prefixes merged, one nft line per family', async (t) => {
  const f = file('list.txt', '# blocklist\n10.0.0.1\n\n10.1.0.0/16   # a prefix\n10.1.2.0/24\nfd00::1\n');
  const o = io();
  t.is(await main(['explain', '--src', `@${f}`, '--mark', '0x66'], o.io), 0, o.err.join('\n'));
  t.deepEqual(o.out.join('\n').split('\n'), [
    'nft add rule inet pktmark prerouting ip saddr { 10.0.0.1, 10.1.0.0/16 } counter meta mark set 0x66',
    'nft add rule inet pktmark prerouting ip6 saddr { fd00::1 } counter meta mark set 0x66',
  ]);
});

test('--dry-run --hex add --src @FILE: NEWSET, NEWSETELEM and NEWRULE per family in one batch, names numbered', async (t) => {
  const f = file('hex.txt', '10.0.0.1\n10.0.0.2\n');
  const o = io();
  t.is(await main(['--dry-run', '--hex', 'add', '--src', `@${f}`, '--mark', '1'], o.io), 0, o.err.join('\n'));
  const types = o.out.map((h) => h.slice(8, 12));
  // begin, table, chain, NEWSET (0a09), NEWSETELEM (0a0c), NEWRULE (0a06), end
  t.deepEqual(types, ['1000', '000a', '030a', '090a', '0c0a', '060a', '1100']);
  t.true(Buffer.from(o.out[3], 'hex').includes(Buffer.from('pm_0000000000000001_src4')));
});

test('a bad line is named FILE:LINE; an empty file and a missing file are errors', async (t) => {
  const bad = file('bad.txt', '10.0.0.1\n# ok\n10.0.0.999\n');
  const o = io();
  t.is(await main(['explain', '--src', `@${bad}`, '--mark', '1'], o.io), 1);
  t.regex(o.err[0], new RegExp(`${bad}:3`));
  const e = io();
  t.is(await main(['explain', '--src', `@${file('empty.txt', '# nothing\n\n')}`, '--mark', '1'], e.io), 1);
  t.regex(e.err[0], /holds no address/);
  const m = io();
  t.is(await main(['explain', '--src', `@${join(dir, 'absent.txt')}`, '--mark', '1'], m.io), 2);
  t.regex(m.err[0], /cannot read the file \(ENOENT\)/);
});

test('set: usage errors exit 2 before anything is opened', async (t) => {
  for (const args of [['set'], ['set', 'put', 'nft:prerouting:1', '10.0.0.1'], ['set', 'add'], ['set', 'add', 'nft:prerouting:1'], ['set', 'add', 'nft:prerouting:1', '10.0.0.1', '--field', 'x']]) {
    const o = io();
    t.is(await main(args, o.io), 2, args.join(' '));
  }
  const h = io();
  t.is(await main(['set', '--help'], h.io), 0);
  t.regex(h.out.join('\n'), /set add ID ADDR…\|@FILE/);
});

liveTest('set: add --src @FILE, list --json shape, set add/del by words and @FILE, NOT_A_SET_RULE for a plain rule', async (t) => {
  await withNetns(async (ns) => {
    const g = ['--netns', ns.name];
    const f = file('live.txt', '10.0.0.1\n10.0.0.0/24\n192.168.0.0/16\n');
    const a = io();
    t.is(await main([...g, '--json', 'add', '--src', `@${f}`, '--mark', '0x10'], a.io), 0, a.err.join('\n'));
    const id = (JSON.parse(a.out[0]) as { rules: { id: string }[] }).rules[0].id;
    const u = io();
    t.is(await main([...g, 'set', 'add', id, '10.9.0.0/16', '10.0.1.0/24'], u.io), 0, u.err.join('\n'));
    t.regex(u.out[0], /^updated nft:prerouting:\d+: 2 set elements deleted, 4 added$/);
    const rm = file('rm.txt', '192.168.7.0/24\n');
    const d = io();
    t.is(await main([...g, '--json', 'set', 'del', id, `@${rm}`], d.io), 0, d.err.join('\n'));
    t.deepEqual(JSON.parse(d.out[0]), { id, deleted: 2, added: 4 });
    const l = io();
    t.is(await main([...g, '--json', 'list'], l.io), 0);
    const rule = (JSON.parse(l.out.join('')) as { rules: Record<string, unknown>[] }).rules[0];
    t.deepEqual(rule.srcList, { entries: ['10.0.0.0/23', '10.9.0.0/16', '192.168.0.0-192.168.6.255', '192.168.8.0-192.168.255.255'], families: ['ip'], interval: ['ip'] });
    t.is(rule.src, null);
    const tbl = io();
    t.is(await main([...g, 'list'], tbl.io), 0);
    t.regex(tbl.out.join('\n'), /src \{10\.0\.0\.0\/23,10\.9\.0\.0\/16,192\.168\.0\.0-192\.168\.6\.255,…\+1\}/);
    const p = io();
    t.is(await main([...g, '--json', 'add', '--src', '10.3.3.3', '--mark', '1'], p.io), 0);
    const plain = (JSON.parse(p.out[0]) as { rules: { id: string }[] }).rules[0].id;
    const n = io();
    t.is(await main([...g, 'set', 'add', plain, '10.0.0.1'], n.io), 1);
    t.regex(n.err[0], /NOT_A_SET_RULE/);
  });
});

liveTest('set add past a hash set\'s declared size: the set grows (pm_…_src4_g1), the id stays, list shows every entry', async (t) => {
  await withNetns(async (ns) => {
    const g = ['--netns', ns.name];
    const a = io();
    t.is(await main([...g, '--json', 'add', '--src', `@${file('small.txt', '10.0.0.1\n10.0.0.2\n')}`, '--mark', '0x10'], a.io), 0, a.err.join('\n'));
    const id = (JSON.parse(a.out[0]) as { rules: { id: string }[] }).rules[0].id;
    t.regex(ns.nft('list', 'ruleset'), /size 48\n/);
    const more = file('more.txt', Array.from({ length: 100 }, (_, i) => `10.5.0.${i}`).join('\n') + '\n');
    const u = io();
    t.is(await main([...g, 'set', 'add', id, `@${more}`], u.io), 0, u.err.join('\n'));
    t.regex(u.out[0], /^updated nft:prerouting:\d+: 0 set elements deleted, 100 added$/);
    const text = ns.nft('list', 'ruleset');
    t.regex(text, /set pm_[0-9a-f]{16}_src4_g1 \{\n\t\ttype ipv4_addr\n\t\tsize 192\n/);
    t.notRegex(text, /_src4 \{/);
    const l = io();
    t.is(await main([...g, '--json', 'list'], l.io), 0);
    const rule = (JSON.parse(l.out.join('')) as { rules: { id: string; srcList: { entries: string[] } }[] }).rules[0];
    t.is(rule.id, id);
    t.is(rule.srcList.entries.length, 102);
  });
});
