import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

// The library speaks netlink only: nothing under src/ or codecs/ may start a process.
const FORBIDDEN = [/\bchild_process\b/, /\bexecSync\b/, /\bexecFile(Sync)?\b/, /\bspawn(Sync)?\s*\(/, /\bfork\s*\(/, /process\.binding\s*\(\s*['"]spawn/, /\bsystem\s*\(/];

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|js|mjs|cjs)$/.test(name)) yield p;
  }
}

for (const dir of ['src', 'codecs']) {
  test(`${dir}/ never imports child_process or spawns a program`, (t) => {
    const hits: string[] = [];
    for (const f of files(dir)) {
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
