/**
 * The live scan in a throwaway namespace: foreign nft, iptables-nft (MARK, CONNMARK --save-mark),
 * ip rule and an SO_MARK socket are found with the right bits; `--mark auto` picks a bit outside
 * all of them; `add --strict` refuses an overlap; and the foreign state is byte-for-byte unchanged.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Marker } from '../../src/marker.js';
import { main } from '../../src/cli/main.js';
import type { MarkUser } from '../../src/conflicts/types.js';
import { IP, liveTest, withNetns, type Netns } from '../helpers/netns.js';

const IPT = '/usr/sbin/iptables-nft';
const CHILD = fileURLToPath(new URL('./conflicts-socket-child.ts', import.meta.url));

/** everything foreign, as the real tools print it */
const foreign = (ns: Netns): string[] => [
  ns.nft('-j', 'list', 'table', 'ip', 'foreign'), ns.nft('-j', 'list', 'table', 'ip', 'mangle'),
  ns.ip('-j', 'rule', 'show'), ns.ip('-6', '-j', 'rule', 'show'), ns.ip('xfrm', 'policy', 'list'),
];

const only = (users: readonly MarkUser[], re: RegExp): MarkUser[] => users.filter((u) => re.test(u.detail));

async function run(line: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const code = await main(line, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

liveTest('conflicts: a live scan finds foreign nft, iptables-nft MARK/CONNMARK, ip rule and SO_MARK users with their bits; auto avoids them; nothing foreign changes', async (t) => {
  await withNetns(async (ns) => {
    ns.nftFile('table ip foreign {\n  chain pre {\n    type filter hook prerouting priority 0;\n    meta mark set 0xff000000\n  }\n}\n');
    ns.exec(IPT, ['-t', 'mangle', '-A', 'PREROUTING', '-j', 'MARK', '--set-xmark', '0x4000/0x4000']);
    ns.exec(IPT, ['-t', 'mangle', '-A', 'PREROUTING', '-j', 'CONNMARK', '--save-mark']);
    ns.ip('rule', 'add', 'fwmark', '0x100/0x100', 'table', '100');
    ns.ip('xfrm', 'policy', 'add', 'src', '10.0.0.1/32', 'dst', '10.0.0.2/32', 'dir', 'out', 'mark', '0x30', 'mask', '0xf0', 'tmpl', 'src', '10.0.0.1', 'dst', '10.0.0.2', 'proto', 'esp', 'mode', 'tunnel');
    const child = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', CHILD, String(0x10000)], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const [ready] = await once(child.stdout!, 'data') as [Buffer];
      t.regex(ready.toString(), /^ready \d+/);
      const port = Number(/\d+/.exec(ready.toString())![0]);
      const before = foreign(ns);

      const m = await Marker.open({ netns: ns.name });
      try {
        const r = await m.conflicts({ mark: '0x4000/0x4000' });
        t.log(r.users.map((u) => `${u.source} ${u.owner} ${u.action} ${u.bits.toString(16)} ${u.detail}`).join('\n'));
        t.like(only(r.users, /meta mark set 0xff000000/)[0], { source: 'nft', owner: 'table ip foreign', action: 'sets', bits: 0xffffffff, values: [0xff000000], whole: true });
        t.like(only(r.users, /MARK --set-xmark 0x4000\/0x4000/)[0], { source: 'nft', owner: 'table ip mangle', action: 'sets', bits: 0x4000, values: [0x4000] });
        t.like(only(r.users, /CONNMARK --save-mark/)[0], { source: 'nft', owner: 'table ip mangle', action: 'saves', bits: 0xffffffff });
        t.like(only(r.users, /fwmark 0x100\/0x100/)[0], { source: 'ip-rule', action: 'matches', bits: 0x100, values: [0x100] });
        const sock = only(r.users, new RegExp(`127\\.0\\.0\\.1:${port} `))[0];
        t.like(sock, { source: 'socket', action: 'sets', values: [0x10000], whole: true });
        t.regex(sock?.owner ?? '', /^pid \d+ \(node\)$/, 'the owning process, from /proc');
        t.true(r.registry!.matches.some((c) => c.software.startsWith('Kubernetes')), 'the registry half');
        t.regex(r.registry!.attribution, /CC BY 4\.0/);
        t.false(r.unreadable.some((u) => u.reason === 'EPERM' || u.reason === 'deadline'), JSON.stringify(r.unreadable));

        const rec = await m.add({ src: '10.9.9.9', mark: 'auto' });
        const picked = { mark: rec.rule?.mark as number | undefined, mask: rec.rule?.mask as number | undefined };
        t.is(picked.mark, picked.mask, 'one bit, set under its own mask');
        for (const bit of [0xff000000, 0x4000, 0x100, 0x10000, 0xf0]) t.is((picked.mask ?? bit) & bit, 0, `auto avoids 0x${bit.toString(16)}`);
        t.log(`auto picked 0x${picked.mark?.toString(16)}`);
        t.like(only(r.users, /policy dir out .*mark 0x30\/0xf0/)[0], { source: 'xfrm', action: 'matches', bits: 0xf0, values: [0x30] });

        // tc: pktmark's own cls_bpf program is found on lo and reported as pktmark's
        await m.add({ via: 'bpf', dev: 'lo', src: '10.9.9.5', mark: '0x2/0x2' });
        const tc = (await m.conflicts({ sources: ['tc'] })).users;
        t.like(tc.find((u) => /bpf program pktmark\//.test(u.detail)), { source: 'tc', owner: 'pktmark', action: 'sets' });
      } finally { await m.close(); }

      // the CLI: --strict refuses with MARK_CONFLICT and adds nothing; without it, a warning
      const strict = await run(['--netns', ns.name, 'add', '--src', '10.9.9.8', '--mark', '0x4000/0x4000', '--strict']);
      t.is(strict.code, 1);
      t.regex(strict.err.join('\n'), /MARK_CONFLICT.*table ip mangle sets bits 0x4000/);
      t.false(ns.nft('list', 'table', 'inet', 'pktmark').includes('10.9.9.8'), 'nothing applied');
      const warned = await run(['--netns', ns.name, 'add', '--src', '10.9.9.7', '--mark', '0x4000/0x4000']);
      t.is(warned.code, 0);
      t.regex(warned.err.join('\n'), /warning: mark 0x4000\/0x4000 overlaps a live user: table ip mangle/);
      const json = await run(['--netns', ns.name, '--json', 'conflicts']);
      t.is(json.code, 0);
      const j = JSON.parse(json.out[0]!) as { users: { owner: string; bits: string }[]; unreadable: unknown[] };
      t.true(j.users.some((u) => u.owner === 'table ip mangle' && u.bits === '0x00004000'));
      t.true(j.users.some((u) => u.owner === 'pktmark'), 'pktmark\'s own rules are reported as pktmark');
      const dry = await run(['--dry-run', 'add', '--src', '10.9.9.6', '--mark', 'auto']);
      t.is(dry.code, 1);
      t.regex(dry.err.join('\n'), /INVALID_MARK.*live scan.*without --dry-run/);

      // apply: the same warning, and --strict refuses before anything is sent
      const dir = mkdtempSync(join(tmpdir(), 'pktmark-conflicts-'));
      try {
        const file = join(dir, 'rules.yaml');
        writeFileSync(file, 'rules:\n  - name: clash\n    src: 10.9.9.4\n    mark: 0x4000/0x4000\n  - name: picked\n    src: 10.9.9.3\n    mark: auto\n');
        const refused = await run(['--netns', ns.name, 'apply', '-f', file, '--strict']);
        t.is(refused.code, 1);
        t.regex(refused.err.join('\n'), /MARK_CONFLICT rules\[0\]\.mark/);
        t.false(ns.nft('list', 'table', 'inet', 'pktmark').includes('10.9.9.4'), 'nothing applied');
        const applied = await run(['--netns', ns.name, 'apply', '-f', file]);
        t.is(applied.code, 0, applied.err.join('\n'));
        t.regex(applied.err.join('\n'), /warning: rule clash: mark 0x4000\/0x4000 overlaps a live user/);
        t.regex(applied.err.join('\n'), /rule picked: auto mark 0x[0-9a-f]+\/0x[0-9a-f]+ picked/);
        const again = await run(['--netns', ns.name, 'apply', '-f', file]);
        t.regex(again.err.join('\n'), /rule picked: auto mark .* kept/);
        t.regex(again.out.join('\n'), /0 added, 0 removed, 2 kept/);
      } finally { rmSync(dir, { recursive: true, force: true }); }

      t.deepEqual(foreign(ns), before, 'foreign nft tables and ip rules byte-for-byte unchanged');
    } finally {
      child.stdin!.end();
      await once(child, 'exit');
    }
  });
});
