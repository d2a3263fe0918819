// Runs inside a namespace (via `ip netns exec`): times one command there and reads its peak RSS
// from /usr/bin/time (-f %M, kilobytes), so neither `ip netns exec` nor node is charged to it.
// usage: node measure-cmd.mjs STDIN_FILE|- -- CMD ARGS…   prints JSON { ms, maxRssKB }
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [stdinFile, sep, cmd, ...args] = process.argv.slice(2);
if (sep !== '--') throw new Error('usage: measure-cmd.mjs STDIN_FILE|- -- CMD ARGS…');
const input = stdinFile === '-' ? undefined : readFileSync(stdinFile);
const dir = mkdtempSync(join(tmpdir(), 'pm-measure-'));
const out = join(dir, 'rss');
const t0 = process.hrtime.bigint();
execFileSync('/usr/bin/time', ['-f', '%M', '-o', out, cmd, ...args], input === undefined ? { stdio: 'ignore' } : { input, stdio: ['pipe', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const maxRssKB = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ ms, maxRssKB }));
