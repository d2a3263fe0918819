/**
 * The tc marking path in a kernel that has act_skbedit and act_police: one kvm-run guest boot
 * (emulated, a few minutes here) runs test/vm/tc-guest.ts and this test checks its report.
 * Runs whenever kvm-run can work (root, qemu present or installable by build-guest). In CI
 * (CI set) it never skips: it fails with the reason; elsewhere it skips and prints why.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KVM_RUN = fileURLToPath(new URL('../../../shared/kvm/kvm-run', import.meta.url));

function vmUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (qemu, network namespaces in the guest)';
  if (!existsSync(KVM_RUN)) return `needs ${KVM_RUN}`;
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64 || command -v apt-get']).status === 0;
  if (!qemu) return 'needs qemu-system-x86_64 (or apt-get to install it)';
  return undefined;
}

const TITLE = 'tc VM: skbedit marks, v6, mark/mask, police 1 of 20, list counters, delete/clear restore the device';
const why = vmUnavailable();
if (why !== undefined) {
  if (process.env.CI) test(TITLE, (t) => { t.fail(`VM test cannot run: ${why}`); });
  else { console.log(`skip: ${TITLE}: ${why}`); test.skip(TITLE, () => {}); }
} else {
  test.serial(TITLE, async (t) => {
    t.timeout(15 * 60_000);
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(KVM_RUN, ['--', process.execPath, '--import', 'tsx', 'test/vm/tc-guest.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      p.on('close', (c) => resolve({ code: c, out }));
    });
    const line = out.split('\n').find((l) => l.startsWith('PKTMARK-VM-RESULT '));
    if (!line) { t.fail(`no result from the guest (exit ${code}):\n${out.slice(-3000)}`); return; }
    const r = JSON.parse(line.slice('PKTMARK-VM-RESULT '.length)) as Record<string, any>;
    t.log(JSON.stringify({ kernel: r.kernel, v4: r.v4, v6: r.v6, mask: r.mask, police: r.police }));
    t.falsy(r.error, JSON.stringify(r.error));
    t.is(code, 0);
    // cheat sheet: marks the 3 datagrams from 10.0.0.1 and none of the 3 from 10.0.0.3
    t.like(r.v4, { id: 'tc:va:ingress:1:800::800', 'v4.1': 3, 'v4.3': 0 });
    t.like(r.v4list[0], { id: r.v4.id, packets: 3, mark: 0xdeadbeef, src: '10.0.0.1' });
    t.true(r.v4deleteRestores);
    t.like(r.v6, { 'v6.1': 3, 'v6.3': 0 });
    t.regex(r.v6.id, /^tc:va:ingress:49152:800::800$/);
    t.true(r.v6list[0].packets >= 3);
    t.true(r.v6deleteRestores);
    t.like(r.mask, { 'mask.1': 3, 'mask.3': 0, 'v4.1': 0 });
    t.like(r.masklist[0], { mark: 0x10, mask: 0xf0, packets: 3 });
    t.true(r.maskClearRestores);
    // police pkts_rate 1 pkts_burst 1: exactly one of a quick burst of 20 is marked
    t.like(r.police, { sent: 20, 'v4.1': 1 });
    t.like(r.policelist[0], { packets: 1, rate: { rate: 1, unit: 'second', burst: 1 } });
    t.true(r.policeClearRestores);
    t.deepEqual([...r.foreign.listed].sort(), [...r.foreign.ids].sort(), 'list shows exactly pktmark\'s filters, each once');
    t.is(r.foreignDelete, 'NOT_OWNED');
    t.true(r.foreignClearRestores, 'the foreign clsact qdisc and filter are untouched');
  });
}
