#!/usr/bin/env node
// pktmark command line. Runs the one-file bundle dist/pktmark.mjs (`npm run build`: esbuild,
// fastest start: one file to load instead of ~60 modules), else the tsc output in dist/src, else
// — in a checkout that was never built — the TypeScript through tsx (correct, slower to start).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/pktmark.mjs', import.meta.url);
const dist = new URL('../dist/src/cli/entry.js', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/entry.ts', import.meta.url).href);
}
