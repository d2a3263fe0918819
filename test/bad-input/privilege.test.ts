/**
 * Least privilege: run as nobody with every capability dropped (setpriv: no inheritable or
 * bounding-set capabilities, no groups) *inside* a throwaway namespace — so even a broken
 * privilege drop could only touch that namespace — every mutating command fails with EPERM and
 * the hint, while --dry-run (and its --hex bytes, the CLI's encode), explain and marks still work.
 * The namespace's whole state is unchanged.
 */
import { spawn } from 'node:child_process';
import { liveTest, withNetns, run, IP } from '../helpers/netns.js';
import { ENTRY, ROOT, pool, type CliResult } from '../cli/cli.js';
import { snapshot } from './snapshot.js';
import { RAW } from './raw.js';

function asNobodyIn(ns: string, args: readonly string[]): Promise<CliResult> {
  const argv = [IP, 'netns', 'exec', ns, '/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', process.execPath, '--import', 'tsx', ENTRY, ...args];
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PKTMARK_DEBUG: '' } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const MUTATING: readonly (readonly string[])[] = [
  ['add', '--src', '10.0.0.1', '--mark', '1'],
  ['add', '--via', 'tc', '--dev', 'd0', '--src', '10.0.0.1', '--mark', '1'],
  ['del', 'nft:prerouting:2'],
  ['clear'],
  ['iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '1'],
  ['iptables', '-t', 'raw', '-F', 'PREROUTING'],
  ['tc', 'qdisc', 'add', 'dev', 'd0', 'clsact'],
  ['tc', 'filter', 'add', 'dev', 'd0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'src', '10.0.0.1', 'action', 'skbedit', 'mark', '1'],
];

const READ_ONLY: readonly (readonly string[])[] = [
  ['--dry-run', 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef'],
  ['--dry-run', '--hex', 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef'],
  ['--dry-run', 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '1'],
  ['--dry-run', '--ifindex', 'd0=2', 'tc', 'filter', 'add', 'dev', 'd0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'src', '10.0.0.1', 'action', 'skbedit', 'mark', '1'],
  ['explain', '--src', '10.0.0.1', '--mark', '1'],
  ['marks', '0xff00'],
];

liveTest('without CAP_NET_ADMIN: every mutating command is EPERM with the hint; dry-run, explain, marks still work', async (t) => {
  t.timeout(5 * 60_000);
  await withNetns(async (ns) => {
    run(IP, ['-n', ns.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    ns.nftFile('table inet pktmark { comment "pktmark" ; }\n');
    const before = snapshot(ns);
    const bad = await pool(MUTATING, 2, (a) => asNobodyIn(ns.name, a));
    bad.forEach((r, i) => {
      const what = MUTATING[i]!.join(' ');
      t.is(r.code, 1, `${what}: ${r.stderr}`);
      t.regex(r.stderr, /^pktmark: EPERM\b.*needs root or CAP_NET_ADMIN/, what);
      t.is(r.stderr.trimEnd().split('\n').length, 1, what);
      t.false(RAW.test(r.stderr));
    });
    const good = await pool(READ_ONLY, 2, (a) => asNobodyIn(ns.name, a));
    good.forEach((r, i) => {
      const what = READ_ONLY[i]!.join(' ');
      t.is(r.code, 0, `${what}: ${r.stderr}`);
      t.not(r.stdout.trim(), '', what);
    });
    t.is(snapshot(ns), before, 'namespace state unchanged');
  });
});
