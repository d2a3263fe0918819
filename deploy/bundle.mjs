// `npm run bundle`: the CLI as one CommonJS bundle, dist/bundle/pktmark-main.cjs, with koffi's
// JavaScript inside and yaml and prom-client beside it (pktmark-vendor-*.cjs), started by dist/bundle/pktmark.cjs
// (build/launcher.cjs) from V8's code cache beside it (pktmark-main.cjs.v8cache, for the Node
// version that ran this script: the image's Node should be the same major and minor, else the
// launcher compiles the source, correct but ~40 ms slower to start); plus koffi's native module
// for Linux glibc and musl on x64 and arm64, where koffi's loader looks for it
// (build/koffi/<triplet>/koffi.node, relative to the bundle). Runs with a bare
// `node dist/bundle/pktmark.cjs` — no node_modules.
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../build/cli.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bundle');
const TRIPLETS = ['linux_x64', 'musl_x64', 'linux_arm64', 'musl_arm64'];

rmSync(out, { recursive: true, force: true });
// koffi's `require("./build/koffi/<triplet>/koffi.node")` stays a runtime require, resolved next to the bundle
await buildCli({ outDir: out, external: ['*.node'], legalComments: 'none' });
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
console.log(`dist/bundle/pktmark-main.cjs ${size(join(out, 'pktmark-main.cjs'))}, its V8 code cache ${size(join(out, 'pktmark-main.cjs.v8cache'))} (node ${process.version}); koffi.node for ${TRIPLETS.join(', ')}`);
