#!/usr/bin/env node
// pktmark command line. Runs the compiled JavaScript in dist/ (`npm run build`), which starts
// fast; in a checkout that was never built it falls back to running the TypeScript through tsx
// (correct, but slower to start).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/src/cli/entry.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/entry.ts', import.meta.url).href);
}
