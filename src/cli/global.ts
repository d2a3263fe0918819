/**
 * Global options: before the command, and also accepted among a native command's options
 * (`pktmark add --src 10.0.0.1 --mark 1 --dry-run`). The drop-in fronts take them only before
 * the front's name, since their own words follow the real tool's grammar.
 */
import type { MarkerOptions } from '../marker.js';
import { UsageError } from './errors.js';
import type { Words } from './words.js';

export interface GlobalOptions {
  netns?: string;
  table?: string;
  json: boolean;
  dryRun: boolean;
  hex: boolean;
  /** --ifindex N (any device) or --ifindex DEV=N (repeatable) */
  ifindex: Map<string, number>;
  ifindexAny?: number;
  /** fake kernels for tests (main's third argument); never set from the command line */
  inject?: CliInjection;
}

/** What `main(argv, io, inject)` passes to every Marker and socket the CLI opens (pktmark/testing). */
export interface CliInjection {
  readonly transport?: MarkerOptions['transport'];
  readonly bpf?: MarkerOptions['bpf'];
}

export const newGlobalOptions = (): GlobalOptions => ({ json: false, dryRun: false, hex: false, ifindex: new Map() });

export const GLOBAL_FLAGS = ['--netns', '--table', '--json', '--dry-run', '--hex', '--ifindex'] as const;

function parseIfindex(v: string, pos: number, g: GlobalOptions): void {
  const m = /^(?:([^=\s/]{1,15})=)?(\d{1,10})$/.exec(v);
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || n > 0x7fffffff) {
    throw new UsageError('INVALID_OPTION', `--ifindex ${JSON.stringify(v)} at position ${pos} is not N or DEV=N (N ≥ 1)`, { field: '--ifindex' });
  }
  if (m[1] === undefined) g.ifindexAny = n; else g.ifindex.set(m[1], n);
}

/**
 * If the next word is a global option (`--x` or `--x=v`), consume it into `g` and return true.
 */
export function takeGlobal(w: Words, g: GlobalOptions): boolean {
  const word = w.peek();
  if (word === undefined || !word.startsWith('--')) return false;
  const eq = word.indexOf('=');
  const name = eq < 0 ? word : word.slice(0, eq);
  if (!(GLOBAL_FLAGS as readonly string[]).includes(name)) return false;
  w.take();
  const pos = w.lastPos;
  const val = (what: string): string => {
    if (eq >= 0) return word.slice(eq + 1);
    return w.value(name, what);
  };
  switch (name) {
    case '--netns': g.netns = val('a namespace name, path or pid'); break;
    case '--table': g.table = val('a table name'); break;
    case '--ifindex': parseIfindex(val('N or DEV=N'), pos, g); break;
    default:
      if (eq >= 0) throw new UsageError('INVALID_OPTION', `${name} at position ${pos} takes no value`, { field: name });
      if (name === '--json') g.json = true;
      else if (name === '--dry-run') g.dryRun = true;
      else g.hex = true;
  }
  return true;
}

/** Checks across options, once the whole line is read. */
export function checkGlobal(g: GlobalOptions): void {
  if (g.hex && !g.dryRun) throw new UsageError('INVALID_OPTION', '--hex needs --dry-run', { field: '--hex', hint: 'pktmark --dry-run --hex add …' });
}

/** Commands that read or change the kernel's current state cannot be dry-run. */
export function noDryRun(cmd: string, g: GlobalOptions): void {
  if (g.dryRun) {
    throw new UsageError('UNSUPPORTED', `--dry-run applies to commands that add rules (add, explain, iptables -A/-I, tc filter add); ${cmd} reads or changes the kernel's current state`, { field: '--dry-run' });
  }
}
