/**
 * `pktmark agent -f FILE`: the long-running loop (src/agent/). Logs one JSON line per apply on
 * stdout, serves /metrics, /healthz and /livez on --metrics (default 127.0.0.1:9464; `off`
 * disables it), exits 0 on SIGTERM/SIGINT leaving the rules in place (--clear-on-exit removes
 * apply's rules first).
 */
import { PktmarkError } from '../../errors.js';
import type { RuleMetricsMode } from '../../agent/metrics.js';
import { openMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import type { Io } from '../io.js';
import { parseOptions, str } from '../options.js';
import { parsePrune } from './apply-file.js';

export const AGENT_HELP = `pktmark agent -f FILE [--resync 30s] [--metrics HOST:PORT|off] [--rule-metrics auto|on|off] [--prune=true|false|all] [--clear-on-exit] [--no-release-memory]

Apply FILE, then keep the kernel matching it: re-apply within a second when the file changes
(a ConfigMap's ..data symlink swap included), repair drift every --resync, log one JSON line per
apply. A bad file keeps the last good state and makes /healthz fail; /livez fails only when the
loop is stuck. SIGTERM exits 0 and leaves the rules (--clear-on-exit removes them).
  --metrics HOST:PORT   /metrics, /healthz, /livez (default 127.0.0.1:9464)
  --rule-metrics MODE   per-rule packets/bytes: auto (up to 1000 rules), on, off
  --no-release-memory   keep what an apply's peak needed instead of giving it back once idle
                        (the default gives it back: 10,000 rules ~77 MB at rest instead of
                        ~120 MB; the next change after a rest pays to fault some of it in again)`;

/** `30s`, `500ms`, `2m`, `1h` or plain seconds → ms */
export function parseDuration(v: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new UsageError('INVALID_OPTION', `${field} ${JSON.stringify(v)} is not a duration (30s, 500ms, 2m)`, { field });
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  return Number(m[1]) * mult;
}

export async function agentCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('agent', argv, base, {
    '-f': { value: 'FILE' }, '--file': { value: 'FILE' }, '--resync': { value: 'DURATION' }, '--metrics': { value: 'HOST:PORT|off' },
    '--rule-metrics': { value: 'auto|on|off' }, '--prune': { value: 'true|false|all' }, '--clear-on-exit': {}, '--release-memory': {}, '--no-release-memory': {},
  }, g);
  if (p.help) { io.out(AGENT_HELP); return EXIT_OK; }
  noDryRun('agent', g);
  const file = str(p, '-f') ?? str(p, '--file');
  if (file === undefined) throw new UsageError('INVALID_OPTION', 'give the desired-state file with -f FILE', { field: '-f' });
  const resyncMs = parseDuration(str(p, '--resync') ?? '30s', '--resync');
  const rm = str(p, '--rule-metrics') ?? 'auto';
  if (rm !== 'auto' && rm !== 'on' && rm !== 'off') throw new UsageError('INVALID_OPTION', `--rule-metrics ${JSON.stringify(rm)} is not auto, on or off`, { field: '--rule-metrics' });
  const metrics = str(p, '--metrics') ?? '127.0.0.1:9464';
  const { parseListen } = await import('../../agent/http.js');
  const listen = metrics === 'off' ? undefined : parseListen(metrics);
  const prune = parsePrune(p.options.get('--prune'));
  const clear = p.options.has('--clear-on-exit');
  // the CLI agent owns its process, so it gives memory back by default (the Agent class leaves
  // that to its host); --release-memory, the old opt-in, still says so explicitly
  if (p.options.has('--release-memory') && p.options.has('--no-release-memory')) throw new UsageError('INVALID_OPTION', '--release-memory and --no-release-memory contradict each other', { field: '--no-release-memory' });
  const releaseMemory = !p.options.has('--no-release-memory');

  const marker = await openMarker(g);
  const { Agent } = await import('../../agent/agent.js');
  const agent = new Agent(marker, { file, resyncMs, prune, ruleMetrics: rm as RuleMetricsMode, releaseMemory, log: (l) => io.out(l), ...(listen ? { listen } : {}) });
  await agent.start();
  if (agent.address) io.err(JSON.stringify({ time: new Date().toISOString(), event: 'listening', address: `${agent.address.host}:${agent.address.port}` }));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  try {
    await agent.stop({ clear });
  } catch (e) {
    io.err(JSON.stringify({ time: new Date().toISOString(), event: 'stop', signal, error: e instanceof PktmarkError ? e.toJSON() : String(e) }));
    await marker.close();
    return 1;
  }
  io.err(JSON.stringify({ time: new Date().toISOString(), event: 'stop', signal, rules: clear ? 'removed' : 'left in place' }));
  await marker.close();
  return EXIT_OK;
}
