/**
 * The WireGuard half of the live scan, in a kernel that has the module: one boot of the test/vm
 * guest (Debian 6.1, emulated, ~5 minutes here) runs test/vm/wireguard-guest.ts, which makes wg0
 * with fwmark 0xca6c in a throwaway namespace and scans it. This machine's kernel has no
 * wireguard; the decoder is also checked offline on the bytes that guest captured
 * (fixtures/conflicts/wireguard-vm.json, test/unit/conflicts-decoders.test.ts).
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeWgDevice } from '../../codecs/genl/wireguard.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { fromHex } from '../../src/transport/fake.js';
import { liveTest, VM } from '../helpers/requires.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN = fileURLToPath(new URL('run.sh', import.meta.url));
const GUEST_TMP = fileURLToPath(new URL('../../.tmp/vm-tmp', import.meta.url));

interface Result {
  kernel: string; error?: string; familyId: number;
  recording: { sent: string; replies: string[] }[];
  scan: { users: { source: string; owner: string; values?: number[]; action: string }[]; unreadable: unknown[] };
}

liveTest('conflicts VM (Debian 6.1, wireguard): the scan finds wg0\'s fwmark 0xca6c, decoded from the kernel\'s own WG_CMD_GET_DEVICE reply', [VM], async (t) => {
  t.timeout(25 * 60_000);
  mkdirSync(GUEST_TMP, { recursive: true });
  const out = await new Promise<string>((resolve) => {
    const p = spawn('/bin/bash', [RUN, '--env', `TMPDIR=${GUEST_TMP}`, '--', process.execPath, '--import', 'tsx', 'test/vm/wireguard-guest.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let s = '';
    p.stdout.on('data', (d: Buffer) => { s += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { s += d.toString(); });
    p.on('close', () => resolve(s));
  });
  const line = out.split('\n').find((l) => l.startsWith('PKTMARK-VM-RESULT '));
  if (!line) { t.fail(`no result from the guest:\n${out.slice(-3000)}`); return; }
  const r = JSON.parse(line.slice('PKTMARK-VM-RESULT '.length)) as Result;
  t.log(`guest kernel ${r.kernel}`);
  t.falsy(r.error, r.error);
  t.deepEqual(r.scan.unreadable, []);
  t.like(r.scan.users.find((u) => u.source === 'wireguard'), { owner: 'wireguard wg0', action: 'sets', values: [0xca6c] });
  const dev = r.recording[1]!.replies.flatMap((h) => parseMessages(fromHex(h))).filter((m) => m.header.type === r.familyId).map(decodeWgDevice);
  t.like(dev[0], { ifname: 'wg0', fwmark: 0xca6c });
});
