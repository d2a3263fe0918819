// The CLI build (`npm run build` runs it after tsc; deploy/bundle.mjs uses buildCli too):
//   OUT/pktmark-main.cjs          src/cli/entry.ts bundled by esbuild into one CommonJS module wrapper
//   OUT/pktmark.cjs               build/launcher.cjs, which runs pktmark-main.cjs from …
//   OUT/pktmark-main.cjs.v8cache  … V8's code cache of it, made by build/warm-cache.cjs
//   OUT/pktmark-vendor-NAME.cjs   yaml and prom-client (apply and the agent only), each its own
//                                 bundle that pktmark-main.cjs requires when one of those starts
// The cache is specific to the Node/V8 version that made it; under another one the launcher
// compiles the source instead (as fast as before the cache existed).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Packages only some commands use. In the main bundle they were a third of its 841 KB, read and
 * copied into a string at every start (fresh pages fault at ~10 us each here) by commands that
 * never run them; each is now a file of its own beside it, required when first imported.
 */
const VENDOR = ['yaml', 'prom-client'];
const vendorFile = (name) => `pktmark-vendor-${name}.cjs`;
const vendorPlugin = {
  name: 'pktmark-vendor',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${VENDOR.join('|')})$`) }, (a) => ({ path: `./${vendorFile(a.path)}`, external: true }));
  },
};

/** @param {{ outDir: string, external: string[], legalComments?: 'none' | 'eof', sourcemap?: boolean }} o */
export async function buildCli({ outDir, external, legalComments, sourcemap }) {
  mkdirSync(outDir, { recursive: true });
  rmSync(join(outDir, 'pktmark-main.cjs.v8cache'), { force: true });
  const main = join(outDir, 'pktmark-main.cjs');
  // without comments and indentation the file is 30% smaller: less to read and copy into a
  // string at every start (fresh pages fault at ~12 us each here). Names are kept, so stack
  // traces still name functions; the source map (dist/ only) maps them back under --enable-source-maps
  const common = {
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', external, logLevel: 'warning',
    charset: 'ascii', // strings and identifiers escaped; comments esbuild keeps are not (below)
    minifyWhitespace: true, minifySyntax: true,
    ...(legalComments ? { legalComments } : {}),
  };
  for (const name of VENDOR) {
    await build({ ...common, stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: ROOT, loader: 'js' }, outfile: join(outDir, vendorFile(name)) });
  }
  await build({
    ...common,
    entryPoints: [join(ROOT, 'src', 'cli', 'entry.ts')],
    outfile: main,
    plugins: [vendorPlugin],
    ...(sourcemap ? { sourcemap: 'linked' } : {}),
    // already wrapped as Node wraps a CommonJS module (Module.wrap): the launcher compiles the file
    // as it is read, where wrapping it at run time made V8 copy the 1.2 MB string once more (~5 ms)
    banner: { js: "(function (exports, require, module, __filename, __dirname) { const __pm_url = require('url').pathToFileURL(__filename).href;" },
    footer: { js: '\n});' },
    define: { 'import.meta.url': '__pm_url' },
  });
  // ASCII only, so that the launcher reads it as Latin-1, ~10 ms faster than UTF-8 decoding (see
  // launcher.cjs). With charset ascii, what is left non-ASCII is in comments (an em dash, an arrow)
  const text = readFileSync(main, 'utf8');
  writeFileSync(main, text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`));
  copyFileSync(join(ROOT, 'build', 'launcher.cjs'), join(outDir, 'pktmark.cjs'));
  const r = spawnSync(process.execPath, [join(ROOT, 'build', 'warm-cache.cjs'), outDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`build/warm-cache.cjs ${outDir} failed (status ${r.status})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildCli({ outDir: join(ROOT, 'dist'), external: ['koffi'], sourcemap: true });
}
