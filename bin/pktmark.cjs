#!/usr/bin/env node
// pktmark command line. Runs the bundled CommonJS build, dist/pktmark.cjs (`npm run build`;
// .ci/setup.sh makes it): one file and the CommonJS loader start fastest, and dist/pktmark.cjs
// (build/launcher.cjs) runs the bundle from V8's code cache. In a checkout that was
// never built it falls back to the TypeScript sources through tsx (correct, slower to start).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const bundle = join(__dirname, '..', 'dist', 'pktmark.cjs');
if (existsSync(bundle)) {
  require(bundle);
} else {
  import('tsx/esm/api')
    .then(({ register }) => { register(); return import(pathToFileURL(join(__dirname, '..', 'src', 'cli', 'entry.ts')).href); })
    .catch((e) => { console.error(`pktmark: cannot start: ${e.message}`); process.exitCode = 1; });
}
