// node build/warm-cache.cjs DIR: writes DIR/pktmark-main.cjs.v8cache, V8's code cache of the
// bundle after a warm-up, so that what a command runs at start is already compiled in it. The
// warm-up runs dry-run commands only (no kernel, no root, the same cache on any build machine):
// help, add's option parsing, validation and nft encoding, and the iptables and restore fronts.
// Functions that only the kernel exchange runs compile lazily, as without a cache.
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

(async () => {
  const { script, size } = launcher.compile(false);
  try {
    for (const argv of WARMUP) {
      process.argv = [process.argv[0], launcher.MAIN, ...argv];
      const code = await launcher.run(script).done;
      if (code !== 0) throw new Error(`warm-up \`pktmark ${argv.join(' ')}\` exited ${code}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.exitCode = 0;
  const data = script.createCachedData();
  const head = Buffer.alloc(launcher.HEAD - launcher.MAGIC.length);
  head.writeUInt32LE(size);
  fs.writeFileSync(launcher.CACHE, Buffer.concat([launcher.MAGIC, head, data]));
  process.stderr.write(`${path.relative(process.cwd(), launcher.CACHE)} ${(data.length / 1024).toFixed(0)} KiB\n`);
})().catch((e) => { process.stderr.write(`warm-cache: ${e.stack ?? e}\n`); process.exit(1); });
