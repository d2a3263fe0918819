// node build/warm-cache.cjs DIR: writes DIR/pktmark-main.cjs.v8cache, V8's code cache of the
// bundle after a warm-up, so that what a command runs at start is already compiled in it. The
// warm-up runs dry-run commands (no kernel, no root needed): help, add's option parsing, validation and nft encoding, and the iptables and restore fronts.
// A build that may make a network namespace (root) then also runs add for real (with and without
// its live conflicts scan), inside a namespace of this process's own (see privateNetns): the
// sockets, the kernel exchange and the scan are then in the cache too, ~9 ms of CPU less of a
// `pktmark add` here (467 -> 577 KiB). Warming list and iptables-restore too made the cache
// 655 KiB and add slower again: V8 reads all of it at every start. Without root those functions
// compile lazily, as without a cache.
// stdout is the caller's to discard (build/cli.mjs runs this with stdout ignored).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = path.resolve(process.argv[2]);
globalThis[Symbol.for('pktmark.cacheWarmup')] = true;
const launcher = require(path.join(dir, 'pktmark.cjs'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pktmark-warmup-'));
const restoreFile = path.join(tmp, 'rules');
const lines = ['*raw', ':PREROUTING ACCEPT [0:0]'];
for (let i = 0; i < 64; i++) lines.push(`-A PREROUTING -s 10.0.${i >> 8}.${i & 255}/32 -j MARK --set-mark 0x1`);
lines.push('-A PREROUTING -p tcp --dport 443 -j MARK --set-xmark 0x2/0xff', 'COMMIT', '');
fs.writeFileSync(restoreFile, lines.join('\n'));

const WARMUP = [
  ['--help'],
  ['--dry-run', 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef'],
  ['--dry-run', 'add', '--src', '10.0.0.0/24', '--proto', 'tcp', '--dport', '443', '--mark', '0x10/0xff'],
  ['--dry-run', 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--set-mark', '0x1'],
  ['--dry-run', 'iptables-restore', restoreFile],
];

/**
 * Move this process into a new, empty network namespace (unshare(CLONE_NEWNET), through the koffi
 * the bundle uses anyway): the kernel warm-ups then touch nothing of the host's, and the namespace
 * goes with the process. False where that is not allowed (no root) or koffi cannot load.
 */
function privateNetns() {
  const CLONE_NEWNET = 0x40000000;
  try {
    const koffi = require('koffi');
    const unshare = koffi.load(null).func('int unshare(int flags)');
    return unshare(CLONE_NEWNET) === 0;
  } catch {
    return false;
  }
}

const KERNEL_WARMUP = [
  ['add', '--src', '10.0.0.1', '--mark', '0xdeadbeef'],
  ['add', '--no-check', '--src', '10.0.0.0/24', '--proto', 'tcp', '--dport', '443', '--mark', '0x10/0xff'],
];

(async () => {
  const { script, size } = launcher.compile(false);
  let kernel = privateNetns();
  const runOnce = (argv) => { process.argv = [process.argv[0], launcher.MAIN, ...argv]; return launcher.run(script).done; };
  try {
    for (const argv of WARMUP) {
      const code = await runOnce(argv);
      if (code !== 0) throw new Error(`warm-up \`pktmark ${argv.join(' ')}\` exited ${code}`);
    }
    // a kernel without nf_tables (or a sandbox without netlink) only leaves these out of the cache
    for (const argv of kernel ? KERNEL_WARMUP : []) {
      if (await runOnce(argv) !== 0) { kernel = false; break; }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.exitCode = 0;
  const data = script.createCachedData();
  const head = Buffer.alloc(launcher.HEAD - launcher.MAGIC.length);
  head.writeUInt32LE(size);
  fs.writeFileSync(launcher.CACHE, Buffer.concat([launcher.MAGIC, head, data]));
  process.stderr.write(`${path.relative(process.cwd(), launcher.CACHE)} ${(data.length / 1024).toFixed(0)} KiB${kernel ? ' (kernel paths warmed in a private netns)' : ''}\n`);
})().catch((e) => { process.stderr.write(`warm-cache: ${e.stack ?? e}\n`); process.exit(1); });
