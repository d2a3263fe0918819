/**
 * `pktmark iptables-restore` racing with other pktmark writers (root, throwaway namespaces). The
 * restore reads the ruleset generation, then pktmark's rules (its flush), and sends one batch
 * guarded by that generation (NFNL_BATCH_GENID), so a commit in between makes the kernel refuse the
 * whole batch (ERESTART) and the restore reads again and retries; it is never half-applied and
 * never applied against a stale view (a rule committed before the restore's commit is flushed, as
 * iptables-restore's commit would flush it).
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMessages } from '../../codecs/netlink/message.js';
import { NFNL_MSG_BATCH_BEGIN } from '../../codecs/netlink/batch.js';
import { main } from '../../src/cli/main.js';
import { NetlinkSocket } from '../../src/transport/netlink-socket.js';
import type { NetlinkProtocol, Transport, WaitFor } from '../../src/transport/transport.js';
import { cli, ENTRY } from '../cli/cli.js';
import { liveTest, uniqueName, withNetns, type Netns } from '../helpers/netns.js';

const file = (text: string): string => { const f = join(tmpdir(), `${uniqueName('pmrr')}.rules`); writeFileSync(f, text); return f; };
/** 30 raw PREROUTING rules, marks 0x1 … 0x1e in order */
const THIRTY = ['*raw', ':PREROUTING ACCEPT [0:0]', ...Array.from({ length: 30 }, (_, i) => `-A PREROUTING -s 10.1.0.${i + 1}/32 -j MARK --set-mark 0x${(i + 1).toString(16)}`), 'COMMIT', ''].join('\n');

/** The marks pktmark's raw prerouting chain sets, in chain order (nft -j as the oracle). */
function chainMarks(ns: Netns): number[] {
  const j = JSON.parse(ns.nft('-j', 'list', 'chain', 'inet', 'pktmark', 'prerouting')) as { nftables: { rule?: { expr: { mangle?: { value: unknown } }[] } }[] };
  return j.nftables.flatMap((o) => (o.rule ? o.rule.expr.flatMap((e) => (e.mangle && typeof e.mangle.value === 'number' ? [e.mangle.value] : [])) : []));
}
const FILE_MARKS = Array.from({ length: 30 }, (_, i) => i + 1);

/** A transport that lets another writer commit just before the first batch goes out. */
class Interloper implements Transport {
  batches = 0;
  constructor(private readonly inner: Transport, private readonly between: () => void) {}
  get protocol(): NetlinkProtocol { return this.inner.protocol; }
  nextSeq(): number { return this.inner.nextSeq(); }
  exchange(bytes: Uint8Array, wait: WaitFor) {
    if (parseMessages(bytes)[0]?.header.type === NFNL_MSG_BATCH_BEGIN && this.batches++ === 0) this.between();
    return this.inner.exchange(bytes, wait);
  }
  close() { return this.inner.close(); }
}

liveTest('iptables-restore: another pktmark process commits between the restore\'s read and its batch → refused by the generation check, re-read and retried; its rule is flushed too', async (t) => {
  await withNetns(async (ns) => {
    t.is((await cli(['--netns', ns.name, 'iptables-restore', file('*raw\n-A PREROUTING -s 10.9.9.8 -j MARK --set-mark 0x66\nCOMMIT\n')])).code, 0);
    const sockets: Interloper[] = [];
    const other = (): void => { execFileSync(process.execPath, ['--import', 'tsx', ENTRY, '--netns', ns.name, 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.9.9.9', '-j', 'MARK', '--set-mark', '0x77']); };
    const err: string[] = [];
    const code = await main(['--netns', ns.name, 'iptables-restore', file(THIRTY)], { out: () => {}, err: (l) => err.push(l) }, {
      transport: async (p) => { const s = new Interloper(await NetlinkSocket.open({ protocol: p, netns: ns.name }), other); sockets.push(s); return s; },
    });
    t.is(code, 0, err.join('\n'));
    t.is(sockets.reduce((n, s) => n + s.batches, 0), 2, 'the first batch was refused (ERESTART) and the restore sent a second');
    t.deepEqual(chainMarks(ns), FILE_MARKS, 'exactly the file: the seed and the other writer\'s rule (committed before the restore) are flushed');
  });
});

liveTest('iptables-restore: 4 restores while another pktmark process adds (and deletes) rules in a loop — each applies whole (the file\'s 30 rules first, in order, then only rules added after it)', async (t) => {
  t.timeout(3 * 60_000);
  await withNetns(async (ns) => {
    t.is((await cli(['--netns', ns.name, 'iptables-restore', file(THIRTY)])).code, 0);
    const writer = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./restore-race-writer.ts', import.meta.url)), ns.name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await new Promise<void>((res, rej) => { writer.stdout.once('data', () => res()); writer.once('exit', (c) => rej(new Error(`writer exited ${c}`))); });
      const f = file(THIRTY);
      let busy = 0;
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 150));
        const before = chainMarks(ns);
        const r = await cli(['--netns', ns.name, 'iptables-restore', f]);
        const marks = chainMarks(ns);
        if (r.code !== 0) {
          // lost every retry (a busy machine): then nothing of it applied — the chain only grew by the writer's rules
          t.regex(r.stderr, /BUSY: iptables-restore lost the race .* nothing was applied/);
          t.deepEqual(marks.slice(0, before.length), before, `restore ${i + 1}: BUSY, and the chain is as before plus the writer's appends`);
          busy++;
          continue;
        }
        t.deepEqual(marks.slice(0, 30), FILE_MARKS, `restore ${i + 1}: the file's rules lead the chain, whole and in order`);
        t.true(marks.slice(30).every((m) => m === 0x77), `restore ${i + 1}: after them only the writer's rules (${marks.length - 30})`);
      }
      t.log(`${4 - busy} of 4 restores applied, ${busy} BUSY after 8 tries each`);
      t.true(busy <= 1, 'retrying wins the race nearly always');
    } finally {
      writer.kill('SIGTERM');
      await new Promise((r) => writer.once('exit', r));
    }
    const added = Number(out.trim().split('\n').at(-1));
    t.log(`the writer added ${added} rules meanwhile`);
    t.true(added > 10, 'the writer really ran alongside');
  });
});
