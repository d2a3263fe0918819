// Runs inside a namespace (via `ip netns exec`) and times a command there, so the `ip netns exec`
// wrapper is not charged to the tool being measured. Prints JSON { times: [ms…] }.
// usage: node time-cmd.mjs RUNS STDIN_FILE|- -- CMD ARGS…   (each run may use {i} in args, and
// {ip}: the i-th address 10.x.y.z, the sources bench/scale.ts adds)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const [runs, stdinFile, sep, cmd, ...args] = process.argv.slice(2);
if (sep !== '--') throw new Error('usage: time-cmd.mjs RUNS STDIN_FILE|- -- CMD ARGS…');
const input = stdinFile === '-' ? undefined : readFileSync(stdinFile);
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const a = args.map((x) => x.replaceAll('{i}', String(i)).replaceAll('{ip}', ip));
  const t0 = process.hrtime.bigint();
  execFileSync(cmd, a, input === undefined ? { stdio: 'ignore' } : { input, stdio: ['pipe', 'ignore', 'inherit'] });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
process.stdout.write(JSON.stringify({ times }));
