/**
 * Running the agent in a test: a ConfigMap-shaped directory (FILE → ..data/FILE, ..data →
 * a timestamped directory, updated by renaming a new ..data symlink over the old one, as the
 * kubelet does), the agent process inside a namespace, and HTTP GETs made from inside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IP, run, type Netns } from './netns.js';

export class ConfigMapDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'pktmark-cm-'));
  private n = 0;
  constructor(readonly key = 'rules.yaml') {}
  get file(): string { return join(this.dir, this.key); }
  /** the kubelet's atomic update: new directory, ..data_tmp → it, rename over ..data */
  write(text: string): void {
    const ts = `..2025_01_01_00_00_${String(this.n++).padStart(2, '0')}.${process.pid}`;
    mkdirSync(join(this.dir, ts));
    writeFileSync(join(this.dir, ts, this.key), text);
    symlinkSync(ts, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    try { symlinkSync(join('..data', this.key), this.file); } catch { /* the key's link exists from the first write */ }
  }
  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

export interface AgentProc {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** Start `pktmark agent` (argv after `agent`) inside `ns`; stdout JSON lines are collected. */
export function startAgent(ns: Netns, argv: readonly string[], entry: readonly string[]): AgentProc {
  const child = spawn(IP, ['netns', 'exec', ns.name, process.execPath, ...entry, 'agent', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i); buf = buf.slice(i + 1);
      try { lines.push(JSON.parse(l) as Record<string, unknown>); } catch { lines.push({ text: l }); }
    }
  });
  child.stderr!.on('data', () => { /* listening/stop lines; not needed */ });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, lines, exited };
}

/** GET http://127.0.0.1:PORT/PATH from inside `ns` → [status, body]. */
export function httpGet(ns: Netns, port: number, path: string): [number, string] {
  const js = `fetch('http://127.0.0.1:${port}${path}').then(async (r) => process.stdout.write(r.status + '\\n' + await r.text())).catch((e) => process.stdout.write('0\\n' + e.message))`;
  const out = run(IP, ['netns', 'exec', ns.name, process.execPath, '-e', js]);
  const nl = out.indexOf('\n');
  return [Number(out.slice(0, nl)), out.slice(nl + 1)];
}

export async function until(what: string, cond: () => boolean, timeoutMs: number, stepMs = 25): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (cond()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
