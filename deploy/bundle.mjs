// `npm run bundle`: one CommonJS file, dist/bundle/pktmark.cjs, with every dependency inside
// (yaml, prom-client, koffi's JavaScript), plus koffi's native module for Linux glibc and musl
// on x64 and arm64 beside it, where koffi's loader looks for it (build/koffi/<triplet>/koffi.node,
// relative to the bundle). Runs with a bare `node dist/bundle/pktmark.cjs` — no node_modules.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bundle');
const TRIPLETS = ['linux_x64', 'musl_x64', 'linux_arm64', 'musl_arm64'];

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src', 'cli', 'entry.ts')],
  outfile: join(out, 'pktmark.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // koffi's `require("./build/koffi/<triplet>/koffi.node")` stays a runtime require, resolved next to the bundle
  external: ['*.node'],
  banner: { js: "const __pm_url = require('url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__pm_url' },
  logLevel: 'warning',
  legalComments: 'none',
});
const koffi = dirname(createRequire(join(root, 'package.json')).resolve('koffi/package.json'));
for (const t of TRIPLETS) {
  const from = join(koffi, 'build', 'koffi', t, 'koffi.node');
  const to = join(out, 'build', 'koffi', t, 'koffi.node');
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
// version() reads the nearest package.json one level up: give the bundle its own
copyFileSync(join(root, 'package.json'), join(out, 'package.json'));
const size = (p) => `${(statSync(p).size / 1024).toFixed(0)} KiB`;
console.log(`dist/bundle/pktmark.cjs ${size(join(out, 'pktmark.cjs'))}; koffi.node for ${TRIPLETS.join(', ')}`);
