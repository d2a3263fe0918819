import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

// The library speaks netlink only: nothing under src/ or codecs/ may start a process.
const FORBIDDEN = [/\bchild_process\b/, /\bexecSync\b/, /\bexecFile(Sync)?\b/, /\bspawn(Sync)?\s*\(/, /\bfork\s*\(/, /process\.binding\s*\(\s*['"]spawn/, /\bsystem\s*\(/,
  // the same through koffi: a libc binding of the exec family, posix_spawn, popen, fork or vfork
  /\bexecv[pe]{0,2}\b|\bexecl[pe]?\b|\bfexecve\b/, /\bposix_spawnp?\b/, /\bpopen\b/, /\bv?fork\b/,
  // and process-level escape hatches: a worker can import child_process out of sight, dlopen loads any code
  /\bprocess\.dlopen\b/, /['"](node:)?cluster['"]/];

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|js|mjs|cjs|mts|cts)$/.test(name)) yield p;
  }
}

for (const dir of ['src', 'codecs']) {
  test(`${dir}/ never imports child_process or spawns a program`, (t) => {
    const hits: string[] = [];
    const scanned = [...files(dir)];
    // every file under the directory is a source file the scan reads (nothing hides behind another extension)
    const all = [...(function* walk(d: string): Generator<string> {
      for (const n of readdirSync(d)) { const p = join(d, n); if (statSync(p).isDirectory()) yield* walk(p); else yield p; }
    })(dir)].filter((p) => !/\.(md|json)$/.test(p));
    t.deepEqual(all.filter((p) => !scanned.includes(p)), [], 'files the scan would skip');
    t.true(scanned.length > 10);
    for (const f of scanned) {
      const text = readFileSync(f, 'utf8');
      for (const re of FORBIDDEN) if (re.test(text)) hits.push(`${f}: ${re}`);
    }
    t.deepEqual(hits, []);
  });
}

test('codecs/ never imports from src/ and uses no Node-only module', (t) => {
  const hits: string[] = [];
  for (const f of files('codecs')) {
    const text = readFileSync(f, 'utf8');
    if (/from\s+['"](\.\.\/)+src\//.test(text)) hits.push(`${f}: imports src/`);
    if (/from\s+['"]node:/.test(text) || /\bBuffer\./.test(text)) hits.push(`${f}: Node-only API`);
  }
  t.deepEqual(hits, []);
});
