/** Shared by the socket-mark packet and live tests: run the child script in a namespace, read nft counters. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { IP, NFT, type Netns } from '../helpers/netns.js';

export const CHILD = new URL('./socket-child.ts', import.meta.url).pathname;
export const PING_CLI = new URL('../live/ping-cli.ts', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;
export const NOBODY = ['/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];

export interface ChildResult { code: number | null; stdout: string; stderr: string; lines: Record<string, unknown>[] }

/** Run a node script in `ns` (cwd = repo root so `--import tsx` resolves), optionally as nobody. */
export function runNode(ns: Netns | undefined, script: string, args: readonly string[], opts: { nobody?: boolean; timeoutMs?: number } = {}): Promise<ChildResult> {
  const node = [...(opts.nobody ? NOBODY : []), process.execPath, '--import', 'tsx', script, ...args];
  const [cmd, ...rest] = ns ? [IP, 'netns', 'exec', ns.name, ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timeout: ${args.join(' ')}\n${stdout}\n${stderr}`)); }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, stdout, stderr, lines });
    });
  });
}

/** Start the echo/HTTP/UDP peer in `ns`; resolves once it listens. Call the returned stop() in finally. */
export async function startPeer(ns: Netns, ports: readonly number[], env: Record<string, string> = {}): Promise<() => void> {
  const child = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', CHILD, 'serve', ...ports.map(String)], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env },
  });
  const rl = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('peer did not start')), 30_000);
    rl.on('line', (l) => { if (l.includes('"ready":true')) { clearTimeout(t); resolve(); } });
    child.on('exit', (c) => { clearTimeout(t); reject(new Error(`peer exited ${c}`)); });
  });
  return () => { child.stdin.end(); child.kill(); };
}

/** Packets per rule comment in `table inet obs`. */
export function counters(ns: Netns): Record<string, number> {
  const j = JSON.parse(ns.exec(NFT, ['-j', 'list', 'table', 'inet', 'obs'])) as { nftables: { rule?: { comment?: string; expr: Record<string, { packets?: number }>[] } }[] };
  const out: Record<string, number> = {};
  for (const item of j.nftables) {
    const r = item.rule;
    if (!r?.comment) continue;
    const c = r.expr.find((e) => 'counter' in e)?.counter;
    out[r.comment] = c?.packets ?? 0;
  }
  return out;
}

/** An output-hook observer table; each rule is `MATCH counter comment "NAME"`. */
export function addObserver(ns: Netns, rules: Readonly<Record<string, string>>): void {
  const body = Object.entries(rules).map(([name, match]) => `    ${match} counter comment "${name}"`).join('\n');
  ns.nftFile(`table inet obs {\n  chain out {\n    type filter hook output priority 0; policy accept;\n${body}\n  }\n}\n`);
}
