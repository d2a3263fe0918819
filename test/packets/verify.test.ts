/**
 * `verify` on real traffic (issue 12 part 3): receiver `a` marks UDP from 10.0.0.0/24, sender `b`
 * sends from 10.0.0.1 and 10.0.0.3. Verify itself sends nothing; it only counts.
 */
import { spawn } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { Marker } from '../../src/index.js';
import type { VerifyReport } from '../../src/index.js';
import { liveTest, withVethPair, type Netns } from '../helpers/netns.js';
import { sendUdp } from '../helpers/packets.js';
import { ENTRY, ROOT } from '../cli/cli.js';

const RULE = { src: '10.0.0.0/24', proto: 'udp', dport: 9, mark: 0xdeadbeef } as const;

/** verify running while `send` sends, resolved with its report */
async function verifyWhile(m: Marker, id: string, opts: { packets?: number; seconds?: number }, send: () => void): Promise<VerifyReport> {
  let started!: () => void;
  const ready = new Promise<void>((r) => { started = r; });
  const report = m.verify(id, { ...opts, onStart: () => started() });
  await Promise.race([ready, report]);
  send();
  return report;
}

const observerTables = (ns: Netns): string[] => ns.nft('list', 'tables').split('\n').filter((l) => l.includes('pktmark_verify'));

liveTest('verify: a later foreign rule that overwrites the mark for one source is found, counted and named', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add(RULE);
      // another program's table, later on the path (input, priority 0): it rewrites the top byte for 10.0.0.3
      a.nftFile('table ip foreign { chain in { type filter hook input priority 0; ip saddr 10.0.0.3 meta mark set meta mark & 0x00ffffff | 0xff000000; }; }\n');
      const handle = (JSON.parse(a.nft('-j', '-a', 'list', 'table', 'ip', 'foreign')) as { nftables: { rule?: { handle: number } }[] }).nftables.find((o) => o.rule)!.rule!.handle;
      const r = await verifyWhile(m, rec.id, { packets: 12, seconds: 20 }, () => {
        sendUdp(b, '10.0.0.1', '10.0.0.2', 5);
        sendUdp(b, '10.0.0.3', '10.0.0.2', 7);
      });
      t.log(r.lines.join('\n'));
      t.is(r.stoppedBy, 'packets');
      t.is(r.traffic, 12);
      t.is(r.marked, 12);
      t.like(r.points.find((p) => p.name === 'prerouting'), { packets: 12, withMark: 12 });
      t.like(r.points.find((p) => p.name === 'input'), { packets: 12, withMark: 5 });
      t.false(r.kept);
      t.is(r.losses.length, 1);
      t.like(r.losses[0], { from: 'prerouting', to: ['input'], overwritten: 7, of: 12 });
      t.deepEqual(r.losses[0].candidates.map((c) => ({ ...c })), [{ family: 'ip', table: 'foreign', chain: 'in', handle: String(handle), hook: 'input', priority: 0, bits: 0xff000000 }]);
      t.true(r.lines.some((l) => l === `overwritten in 7/12 packets between prerouting and input; candidates: table ip foreign chain in handle ${handle} sets bits 0xff000000`), r.lines.join('\n'));
      t.deepEqual(observerTables(a), [], 'the observer table is gone');
    } finally { await m.close(); }
  });
});

liveTest('verify: with no foreign rule the mark is reported kept to input', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add(RULE);
      const r = await verifyWhile(m, rec.id, { packets: 8, seconds: 20 }, () => sendUdp(b, '10.0.0.1', '10.0.0.2', 8));
      t.log(r.lines.join('\n'));
      t.true(r.kept);
      t.deepEqual(r.losses, []);
      t.is(r.marked, 8);
      t.true(r.lines.includes('mark kept 8/8 to input'), r.lines.join('\n'));
      t.deepEqual(observerTables(a), []);
    } finally { await m.close(); }
  });
});

/** The CLI's verify in `ns`, resolved once it says it is watching; `done` is its exit. */
function spawnVerify(ns: Netns, id: string): Promise<{ pid: number; kill: (s: NodeJS.Signals) => void; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> }> {
  const p = spawn(process.execPath, ['--import', 'tsx', ENTRY, '--netns', ns.name, 'verify', id, '--seconds', '60'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  p.stdout.on('data', (d: Buffer) => { stdout += d; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return new Promise((resolve, reject) => {
    p.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (stderr.includes('watching')) resolve({ pid: p.pid!, kill: (s) => p.kill(s), done });
    });
    void done.then((r) => reject(new Error(`verify exited before watching: ${r.code} ${r.stderr}`)));
  });
}

async function killedMidRun(t: ExecutionContext, signal: NodeJS.Signals): Promise<void> {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add(RULE);
      const v = await spawnVerify(a, rec.id);
      t.is(observerTables(a).length, 1, 'the observer table is there while verify runs');
      sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
      v.kill(signal);
      const r = await v.done;
      t.log(r.stdout, r.stderr);
      if (signal === 'SIGINT') {
        t.is(r.code, 130);
        t.regex(r.stdout, /3 packets of the rule's traffic, 3 marked/);
        t.regex(r.stdout, /mark kept 3\/3 to input/);
      } else {
        t.is(r.signal, 'SIGKILL');
      }
      // the owner flag: the kernel drops the table with the dead process's socket
      t.deepEqual(observerTables(a), []);
      t.is((await m.list()).length, 1, 'pktmark\'s own rule is untouched');
    } finally { await m.close(); }
  });
}

liveTest('verify: Ctrl-C (SIGINT) mid-run prints the counts so far and leaves no observer table', (t) => killedMidRun(t, 'SIGINT'));
liveTest('verify: SIGKILL mid-run leaves no observer table (NFT_TABLE_F_OWNER)', (t) => killedMidRun(t, 'SIGKILL'));
