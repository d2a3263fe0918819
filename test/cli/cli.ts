/**
 * Run the pktmark command as a separate process, the way users do. Tests run the TypeScript
 * entry through tsx (always the current source, no build step in a fresh clone);
 * test/cli/bin.test.ts checks that bin/pktmark.cjs runs too. `asNobody` drops every privilege
 * (setpriv to nobody/nogroup, no supplementary groups, no capabilities).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ENTRY = fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url));

export interface CliResult { code: number; stdout: string; stderr: string }

export function cli(args: readonly string[], opts: { asNobody?: boolean; entry?: string[] } = {}): Promise<CliResult> {
  const node = [process.execPath, ...(opts.entry ?? ['--import', 'tsx', ENTRY]), ...args];
  const argv = opts.asNobody ? ['/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', ...node] : node;
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PKTMARK_DEBUG: '' } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Run `fn` over `items` with at most `n` at a time, results in input order. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); }
  }));
  return out;
}
