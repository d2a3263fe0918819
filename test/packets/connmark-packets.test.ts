/**
 * Packets through CONNMARK rules and user-defined chains (iptables grammar, one `pktmark
 * iptables-restore` each). Receiver `a` (10.0.0.2) runs a UDP echo server; sender `b` sends from
 * 10.0.0.1 and 10.0.0.3; the echoes are the reply direction of each connection and leave `a`
 * through OUTPUT, where observers count the mark they got back from the connection.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from '../cli/cli.js';
import { IP, liveTest, uniqueName, withVethPair, type Netns } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';

const ECHO = fileURLToPath(new URL('./udp-echo.mjs', import.meta.url));
const PORT = 7007;

function restoreFile(lines: readonly string[]): string {
  const f = join(tmpdir(), `${uniqueName('pmcm')}.rules`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

/** Run the echo server in `ns` while `fn` sends; resolves when it has exited. */
async function withEcho(ns: Netns, fn: () => void): Promise<void> {
  const p = spawn(IP, ['netns', 'exec', ns.name, process.execPath, ECHO, '10.0.0.2', String(PORT), '3000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`echo server exited (${code}) before it was ready`)));
  });
  fn();
  // the echoes go out while the server runs; wait for it to end on its own
  await new Promise<void>((resolve) => { if (p.exitCode !== null) resolve(); else p.once('exit', () => resolve()); });
}

liveTest('packets: --restore-mark in PREROUTING, -j MARK then --save-mark: the connection\'s replies carry the mark', async (t) => {
  await withVethPair(async (a, b) => {
    const r = await cli(['--netns', a.name, 'iptables-restore', restoreFile([
      '*mangle',
      '-A PREROUTING -j CONNMARK --restore-mark',
      '-A PREROUTING -m mark --mark 0 -s 10.0.0.1 -j MARK --set-mark 0x42',
      '-A PREROUTING -j CONNMARK --save-mark',
      '-A OUTPUT -j CONNMARK --restore-mark',
      'COMMIT',
    ])]);
    t.is(r.code, 0, r.stderr);
    addObserver(a, 0x42, 'output', 'replies', `udp sport ${PORT}`);
    addObserver(a, 0, 'output', 'plain', `udp sport ${PORT}`);
    await withEcho(a, () => { sendUdp(b, '10.0.0.1', '10.0.0.2', 3, PORT); sendUdp(b, '10.0.0.3', '10.0.0.2', 2, PORT); });
    t.is(observerCount(a, 'replies'), 3, 'the 3 echoes to 10.0.0.1 got 0x42 back from their connection');
    t.is(observerCount(a, 'plain'), 2, 'the 2 echoes to 10.0.0.3 stayed unmarked');
  });
});

liveTest('packets: masked --save-mark/--restore-mark copy exactly the masked bits and keep the rest (no approximation)', async (t) => {
  await withVethPair(async (a, b) => {
    const r = await cli(['--netns', a.name, 'iptables-restore', restoreFile([
      '*mangle',
      '-A PREROUTING -j MARK --set-mark 0x1100',
      '-A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0x42/0xff',
      '-A PREROUTING -j CONNMARK --set-mark 0x330000/0xff0000',
      '-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff',
      '-A OUTPUT -j MARK --set-mark 0x7700',
      '-A OUTPUT -j CONNMARK --restore-mark --mask 0xff',
      'COMMIT',
    ])]);
    t.is(r.code, 0, r.stderr);
    // ct mark = 0x330000 kept, ^ (0x1142 & 0xff); reply mark = (0x7700 & ~0xff) ^ (ct & 0xff)
    addObserver(a, 0x7742, 'output', 'exact', `udp sport ${PORT} ct mark 0x330042`);
    addObserver(a, 0x7700, 'output', 'other', `udp sport ${PORT} ct mark 0x330000`);
    await withEcho(a, () => { sendUdp(b, '10.0.0.1', '10.0.0.2', 3, PORT); sendUdp(b, '10.0.0.3', '10.0.0.2', 2, PORT); });
    t.is(observerCount(a, 'exact'), 3, 'replies to 10.0.0.1: mark 0x7742, ct mark 0x330042');
    t.is(observerCount(a, 'other'), 2, 'replies to 10.0.0.3: mark 0x7700, ct mark 0x330000');
  });
});

const CHAIN_FILE = [
  '*mangle',
  ':PREROUTING ACCEPT [0:0]',
  ':CLASSIFY_IN - [0:0]',
  ':SKIP - [0:0]',
  '-A PREROUTING -p udp -j CLASSIFY_IN',
  '-A PREROUTING -m mark --mark 0x10/0xf0 -j MARK --or-mark 0x1',
  '-A CLASSIFY_IN -s 10.0.0.3 -j SKIP',
  '-A CLASSIFY_IN -j MARK --set-mark 0x10/0xf0',
  '-A CLASSIFY_IN -j RETURN',
  '-A CLASSIFY_IN -j MARK --set-mark 0x20/0xf0',
  '-A SKIP -j MARK --set-mark 0x100',
  '-A SKIP -j RETURN',
  'COMMIT',
];

liveTest('packets: a file that jumps to user chains and returns marks the same packets as the real iptables-restore', async (t) => {
  const counts: number[][] = [];
  for (const tool of ['pktmark', 'iptables-nft-restore'] as const) {
    await withVethPair(async (a, b) => {
      const file = restoreFile(CHAIN_FILE);
      if (tool === 'pktmark') {
        const r = await cli(['--netns', a.name, 'iptables-restore', file]);
        t.is(r.code, 0, r.stderr);
      } else {
        a.exec('/usr/sbin/iptables-nft-restore', [file]);
      }
      addObserver(a, 0x11, 'prerouting', 'o11');
      addObserver(a, 0x111, 'prerouting', 'o111');
      addObserver(a, 0x20, 'prerouting', 'o20');
      sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
      sendUdp(b, '10.0.0.3', '10.0.0.2', 2);
      counts.push([observerCount(a, 'o11'), observerCount(a, 'o111'), observerCount(a, 'o20')]);
    });
  }
  t.deepEqual(counts[0], [3, 2, 0], 'pktmark: 10.0.0.1 → 0x10 then | 0x1; 10.0.0.3 → SKIP 0x100, back, 0x110, then | 0x1; never past RETURN');
  t.deepEqual(counts[0], counts[1], 'the same counts as iptables-nft-restore');
});
