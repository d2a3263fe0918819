/**
 * One writer process of the concurrency tests (test/faults/concurrency-child.ts): it adds `rules`
 * rules in `netns`, deletes every other one, and prints what it kept and any errors as JSON.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./concurrency-child.ts', import.meta.url));

export interface WriterResult { who: string; kept: string[]; errors: string[] }

export function runWriter(netns: string, who: number, rules: number): Promise<WriterResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, netns, String(who), String(rules)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => {
      try { resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '')); } catch { reject(new Error(`writer ${who} exited ${code}: ${err.slice(-2000)}`)); }
    });
  });
}
