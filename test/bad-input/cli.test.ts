/**
 * Bad inputs through the CLI and its fronts (`pktmark iptables …`, `pktmark tc …`), each word an
 * argv entry of its own so escapes, newlines and quotes arrive as typed (a NUL cannot be in an
 * argv word at all; the library matrix covers it): each exits with its
 * documented status and code on one stderr line, no line carries a raw control character, and
 * the namespace's whole state is unchanged. The lines run through `main()` in this process
 * (one node start-up per line costs minutes on a busy machine); every 8th also runs as a real
 * `pktmark` process, so the bytes that reach a terminal are checked too. Then what pktmark reads back from the kernel —
 * a comment another tool wrote into pktmark's table — is printed escaped by list, iptables -L
 * and --json.
 */
import { liveTest, withNetns, run, IP } from '../helpers/netns.js';
import { cli, pool, type CliResult } from '../cli/cli.js';
import { main } from '../../src/cli/main.js';
import { snapshot } from './snapshot.js';
import { RAW } from './raw.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Truncated input files (a restore without COMMIT or cut mid-line, an apply YAML cut mid-rule, tc batches). */
const DIR = mkdtempSync(join(tmpdir(), 'pktmark-bad-files-'));
const T = (name: string, text: string): string => { const p = join(DIR, name); writeFileSync(p, text); return p; };
const RESTORE_HEAD = '*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0x1\n';
const FILES = {
  noCommit: T('no-commit.rules', RESTORE_HEAD),
  cutOption: T('cut-option.rules', `${RESTORE_HEAD}-A PREROUTING -s 10.0.0.2 -j MARK --set-mark`),
  cutAddress: T('cut-address.rules', `${RESTORE_HEAD}-A PREROUTING -s 10.0.`),
  cutTable: T('cut-table.rules', `${RESTORE_HEAD}COMMIT\n*mang`),
  cutYaml: T('cut.yaml', 'rules:\n  - {src: 10.0.0.1, mark: 1}\n  - {src: 10.0.'),
  cutYamlKey: T('cut-key.yaml', 'rules:\n  - src: 10.0.0.1\n    mark: 1\n  - src: 10.0.0.2\n    ma'),
  cutYamlQuote: T('cut-quote.yaml', 'rules:\n  - src: 10.0.0.1\n    mark: "0x'),
  batchWord: T('bad-word.tc', 'filter add dev d0 ingress protocol ip prio 3 u32 match ip src 10.0.0.9 action skbedit mark 1\nfilter add dev d0 ingress protocol ip prio 4 u32 match ip srx 10.0.0.9 action skbedit mark 1\n'),
  batchCut: T('cut.tc', 'filter add dev d0 ingress protocol ip prio 3 u32 match ip src 10.0.0.9 action skbedit mark 1\nfilter add dev d0 ingress protocol ip prio 4 u32 match ip src 10.0.0.9 action skbedit ma'),
  batchDev: T('bad-dev.tc', 'filter add dev d0 ingress protocol ip prio 3 u32 match ip src 10.0.0.9 action skbedit mark 1\nfilter add dev o0 ingress protocol ip prio 4 u32 match ip src 10.0.0.9 action skbedit mark 1\n'),
};

/** argv, exit status, code, and (where the position matters: files) what the message must say */
type Line = readonly [args: readonly string[], exit: 1 | 2, code: string, says?: RegExp];
const ESC = '\x1b[31m', OSC = '\x1b]0;owned\x07', CSI8 = '\u009b2J', RLO = '\u202e';
const IPT = ['iptables', '-t', 'raw', '-A', 'PREROUTING'];
const TCF = ['tc', 'filter', 'add', 'dev', 'd0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32'];


const LINES: readonly Line[] = [
  [[ESC], 2, 'UNSUPPORTED'],
  [[OSC], 2, 'UNSUPPORTED'],
  [[CSI8], 2, 'UNSUPPORTED'],
  [[`list${RLO}`], 2, 'UNSUPPORTED'],
  [['add\nlist'], 2, 'UNSUPPORTED'],
  [[`--${ESC}`], 2, 'INVALID_OPTION'],
  [['add', '--mark', ESC], 1, 'INVALID_MARK'],
  [['add', '--mark', '1', `--${ESC}`, 'x'], 2, 'INVALID_OPTION'],
  [['add', '--mark', '1', '--src', `10.0.0.1${ESC}`], 1, 'INVALID_CIDR'],
  [['add', '--mark', '1', '--src', '10.0.\n0.1'], 1, 'INVALID_CIDR'],
  [['add', '--mark', '1', '--src', `10.0.0.1${RLO}`], 1, 'INVALID_CIDR'],
  [['add', '--mark', '1', '--proto', `tcp${CSI8}`], 1, 'INVALID_PROTO'],
  [['add', '--mark', '1', '--comment', '日'.repeat(43)], 1, 'INVALID_COMMENT'],
  [['add', '--mark', '1', '--comment', '"'.repeat(129)], 1, 'INVALID_COMMENT'],
  [['add', '--mark', '1', '--iif', `e${ESC}th`.repeat(4)], 1, 'INVALID_IFNAME'],
  [['add', '--mark', '1', '--iif', 'eth 0'], 1, 'INVALID_IFNAME'],
  [['add', '--mark', '1', '--hook', `out${ESC}`], 1, 'INVALID_HOOK'],
  [['add', '--mark', '1', '--family', 'ipx'], 1, 'INVALID_FAMILY'],
  [['add', '--mark', '1', '--rate', `1/${ESC}`], 1, 'INVALID_RATE'],
  [['add', '--mark', '1', '--table', `t${ESC}`], 1, 'INVALID_OPTION'],
  [['add', '--mark', '1', '--table', 'x'.repeat(300)], 1, 'INVALID_OPTION'],
  [['add', '--mark', '1', '--via', 'tc', '--dev', 'nosuchdev'], 1, 'NOT_FOUND'],
  [['add', '--mark', '1', '--via', 'tc', '--dev', 'o0'], 1, 'NOT_FOUND'],
  [['add', '--mark', '1', '--via', 'tc', '--dev', `d${ESC}`], 1, 'NOT_FOUND'],
  [['add', '--mark', '1', '--via', 'tc', '--dev', 'd0', '--comment', 'x'], 1, 'UNSUPPORTED'],
  [['del', `nft:prerouting:${ESC}`], 1, 'INVALID_ID'],
  [['del', `tc:d0${RLO}:ingress:1:800::800`], 1, 'NOT_FOUND'],
  [['del', 'tc:o0:ingress:1:800::800'], 1, 'NOT_FOUND'],
  [['del', 'tc:d0:ingress:7:800::800'], 1, 'NOT_OWNED'],
  [['del', 'nft:prerouting:999999'], 1, 'NOT_FOUND'],
  [['clear', '--table', 'other'], 1, 'NOT_OWNED'],
  [['--table', 'other', 'clear'], 1, 'NOT_OWNED'],
  [['--table', 'other', 'add', '--mark', '1'], 1, 'NOT_OWNED'],
  [['--table', 'other', 'iptables', '-t', 'raw', '-F', 'PREROUTING'], 1, 'NOT_OWNED'],
  [[...IPT, '-s', `10.0.0.1${ESC}`, '-j', 'MARK', '--set-mark', '1'], 1, 'INVALID_CIDR'],
  [[...IPT, '-m', ESC, '-j', 'MARK', '--set-mark', '1'], 2, 'UNSUPPORTED'],
  [[...IPT, '-j', `MARK${RLO}`, '--set-mark', '1'], 2, 'UNSUPPORTED'],
  [[...IPT, '-j', 'MARK', '--set-mark', `1${CSI8}`], 1, 'INVALID_MARK'],
  [[...IPT, '-m', 'comment', '--comment', `${ESC}`.repeat(30), '-j', 'MARK', '--set-mark', '1'], 1, 'INVALID_COMMENT'],
  [[...IPT, '-i', 'a/b', '-j', 'MARK', '--set-mark', '1'], 1, 'INVALID_IFNAME'],
  [['iptables', '-t', `raw${ESC}`, '-A', 'PREROUTING', '-j', 'MARK', '--set-mark', '1'], 2, 'UNSUPPORTED'],
  [['iptables', '-t', 'raw', '-D', 'PREROUTING', '99'], 1, 'NOT_FOUND'],
  [['iptables', '-t', 'raw', '-I', 'PREROUTING', '99', '-j', 'MARK', '--set-mark', '1'], 1, 'NOT_FOUND'],
  [['ip6tables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '1'], 1, 'FAMILY_MISMATCH'],
  [[...TCF, 'match', 'ip', 'src', `10.0.0.1${ESC}`, 'action', 'skbedit', 'mark', '1'], 1, 'INVALID_CIDR'],
  [[...TCF, 'match', 'ip', ESC, '10.0.0.1', 'action', 'skbedit', 'mark', '1'], 2, 'UNSUPPORTED'],
  [['tc', 'filter', 'add', 'dev', 'o0', 'parent', 'ffff:', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', '10.0.0.1', 'action', 'skbedit', 'mark', '1'], 1, 'NOT_FOUND'],
  [['tc', 'filter', 'add', 'dev', `d${RLO}0`, 'parent', 'ffff:', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', '10.0.0.1', 'action', 'skbedit', 'mark', '1'], 1, 'NOT_FOUND'],
  [['tc', 'qdisc', 'add', 'dev', 'd0', `clsact${ESC}`], 2, 'UNSUPPORTED'],
  [['tc', `filter${OSC}`], 2, 'UNSUPPORTED'],
  [['--netns', '../etc', 'list'], 1, 'INVALID_NETNS'],
  [['--netns', 'a/b', 'list'], 1, 'INVALID_NETNS'],
  [['--netns', '..', 'list'], 1, 'INVALID_NETNS'],
  [['--netns', `ns${ESC}`, 'list'], 1, 'INVALID_NETNS'],
  [['--netns', '/etc/passwd', 'list'], 1, 'INVALID_NETNS'],
  [['--netns', '/dev/tty', 'add', '--mark', '1'], 1, 'INVALID_NETNS'],
  [['--netns', '/proc/self/ns/mnt', 'list'], 1, 'INVALID_NETNS'],
  [['iptables-restore', FILES.noCommit], 1, 'INVALID_OPTION', /line 4: \*raw \(line 1\) has no COMMIT/],
  [['iptables-restore', FILES.cutOption], 1, 'INVALID_OPTION', /line 4: --set-mark at word 7 needs a value/],
  [['iptables-restore', FILES.cutAddress], 1, 'INVALID_OPTION', /line 4: -A at word 1 needs -j MARK/],
  [['iptables-restore', FILES.cutTable], 1, 'UNSUPPORTED', /line 5: table \*mang/],
  [['iptables-restore', '--noflush', FILES.noCommit], 1, 'INVALID_OPTION', /line 4/],
  [['apply', '-f', FILES.cutYaml], 1, 'INVALID_ARGUMENT', /cut\.yaml:3/],
  [['agent', '-f', FILES.cutYaml, '--release-memory', '--no-release-memory'], 2, 'INVALID_OPTION', /contradict/],
  [['apply', '-f', FILES.cutYamlKey], 1, 'INVALID_ARGUMENT', /cut-key\.yaml:5/],
  [['apply', '-f', FILES.cutYamlQuote], 1, 'INVALID_ARGUMENT', /cut-quote\.yaml:3/],
  [['tc', '-batch', FILES.batchWord], 1, 'UNSUPPORTED', /bad-word\.tc:2: unsupported word 'srx' at position 13/],
  [['tc', '-batch', FILES.batchCut], 1, 'UNSUPPORTED', /cut\.tc:2: unsupported word 'ma'/],
  [['tc', '-batch', FILES.batchDev], 1, 'NOT_FOUND', /bad-dev\.tc:2: device "o0" does not exist/],
];

/** Lines that bring their own --netns; the others get `--netns NS` in front. */
const OWN_NETNS = (args: readonly string[]): boolean => args[0] === '--netns';

liveTest(`CLI and fronts: ${LINES.length} bad lines with escapes, names and ids — documented code, escaped output, state unchanged`, async (t) => {
  await withNetns(async (ns, other) => {
    run(IP, ['-n', ns.name, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    ns.ip('link', 'set', 'd0', 'up');
    run(IP, ['-n', other.name, 'link', 'add', 'o0', 'type', 'veth', 'peer', 'name', 'o1']);
    const seed = await cli(['--netns', ns.name, 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef']);
    t.is(seed.code, 0, seed.stderr);
    ns.nftFile('table inet other { chain prerouting { type filter hook prerouting priority 0; counter; }; }\n');
    ns.tc('qdisc', 'add', 'dev', 'd0', 'clsact');
    ns.tc('filter', 'add', 'dev', 'd0', 'ingress', 'prio', '7', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', '10.1.1.1/32');
    const before = snapshot(ns);
    const problems: string[] = [];
    const argvs = LINES.map(([a]) => (OWN_NETNS(a) ? [...a] : ['--netns', ns.name, ...a]));
    const inProcess = async (a: readonly string[]): Promise<CliResult> => {
      let stdout = '', stderr = '';
      const code = await main(a, { out: (l) => { stdout += `${l}\n`; }, err: (l) => { stderr += `${l}\n`; } });
      return { code, stdout, stderr };
    };
    const results: CliResult[] = [];
    for (const a of argvs) results.push(await inProcess(a));
    const spawned = argvs.filter((_, i) => i % 8 === 0);
    const real = await pool(spawned, 2, (a) => cli(a));
    spawned.forEach((a, i) => {
      const r = real[i]!, mine = results[argvs.indexOf(a)]!;
      if (r.code !== mine.code || r.stderr !== mine.stderr) problems.push(`${JSON.stringify(a)}: as a process ${r.code} ${JSON.stringify(r.stderr)}, in-process ${mine.code} ${JSON.stringify(mine.stderr)}`);
    });
    results.forEach((res, i) => {
      const [args, exit, code, says] = LINES[i]!;
      const what = JSON.stringify(args);
      // add's live-scan warnings may precede the error (another table that sets marks is a live user)
      const errLines = res.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('pktmark: warning: '));
      if (res.code !== exit) problems.push(`${what}: exit ${res.code}, expected ${exit}: ${res.stderr}`);
      if (errLines.length !== 1) problems.push(`${what}: ${errLines.length} stderr lines`);
      if (!errLines[0]!.startsWith(`pktmark: ${code}`)) problems.push(`${what}: expected ${code}: ${errLines[0]}`);
      if (says && !says.test(errLines[0]!)) problems.push(`${what}: expected ${says}: ${errLines[0]}`);
      if (RAW.test(res.stderr) || RAW.test(res.stdout)) problems.push(`${what}: raw control character in ${JSON.stringify(res.stderr)}`);
      if (res.stdout !== '') problems.push(`${what}: stdout ${res.stdout}`);
    });
    t.deepEqual(problems, []);
    t.is(snapshot(ns), before, 'namespace state unchanged');
  }, 2);
});

liveTest('read back from the kernel: a comment with escapes, tabs and bidi controls, written by nft into pktmark’s table, prints escaped', async (t) => {
  t.timeout(5 * 60_000);
  await withNetns(async (ns) => {
    const seed = await cli(['--netns', ns.name, 'add', '--src', '10.0.0.1', '--mark', '1', '--comment', 'mine']);
    t.is(seed.code, 0, seed.stderr);
    // nft writes the comment bytes as given (its parser takes any byte but the quote in a string)
    const evil = `x${ESC}y\tz${RLO}w\u0085v`;
    ns.nftFile(`add rule inet pktmark prerouting ip saddr 10.0.0.2 counter meta mark set 0x2 comment "${evil}"\n`);
    for (const args of [['list'], ['iptables', '-t', 'raw', '-L', 'PREROUTING'], ['--json', 'list']]) {
      const r = await cli(['--netns', ns.name, ...args]);
      t.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      t.false(RAW.test(r.stdout), `${args.join(' ')}: ${JSON.stringify(r.stdout)}`);
      if (args[0] === '--json') {
        t.true(JSON.parse(r.stdout).rules.some((x: { comment: string | null }) => x.comment === evil), 'JSON round-trips the exact comment');
      } else {
        t.true(r.stdout.includes('\\x1b[31m'), `${args.join(' ')} shows the escape as text: ${r.stdout}`);
      }
      if (args[0] === 'list') {
        // the tab cannot shift columns: every row has as many cells separators as the header
        const rows = r.stdout.trimEnd().split('\n');
        t.false(rows.some((l) => l.includes('\t')));
      }
    }
  });
});
