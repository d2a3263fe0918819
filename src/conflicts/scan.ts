/**
 * Run the scanners against one namespace, bounded by a deadline: each scanner's failures become
 * `unreadable` entries, and a scanner still running at the deadline is reported as such (its
 * partial findings are kept). Reads only.
 */
import { markConflicts, REGISTRY_ATTRIBUTION, type MarkConflict } from '../registry/index.js';
import type { NetlinkProtocol, Transport } from '../transport/transport.js';
import { reasonOf } from './guard.js';
import { realProc } from './proc.js';
import { SCAN_SOURCES, SCANNERS, type ScanSource } from './scanners.js';
import type { MarkUser, ProcReader, ScanContext, Unreadable } from './types.js';

export const DEFAULT_SCAN_MS = 3000;

export interface ScanOptions {
  /** the whole scan's budget (default 3000 ms) */
  readonly timeoutMs?: number;
  /** only these sources (default all) */
  readonly sources?: readonly ScanSource[];
  /** socket owners come from here (tests); default the real /proc */
  readonly proc?: ProcReader;
  /**
   * leave pktmark's own nft table out (add's and apply's checks, which ignore pktmark's own rules
   * anyway): a table of 10,000 rules is not dumped and decoded again on every add
   */
  readonly skipOwn?: boolean;
}

export interface RegistryHalf {
  readonly mark: number;
  readonly mask: number;
  /** known software whose registered bits or values overlap (informative: the registry says who *might*) */
  readonly matches: readonly MarkConflict[];
  readonly attribution: string;
}

export interface ConflictReport {
  /** who touches which bits, live */
  readonly users: readonly MarkUser[];
  /** what could not be read, and why */
  readonly unreadable: readonly Unreadable[];
  /** the fwmark registry's view of a given mark (when one was asked about) */
  readonly registry?: RegistryHalf;
  readonly elapsedMs: number;
}

export function registryHalf(mark: number, mask: number): RegistryHalf {
  return { mark, mask, matches: markConflicts(mark, mask), attribution: REGISTRY_ATTRIBUTION };
}

export async function scan(
  deps: { transport(p: NetlinkProtocol): Promise<Transport>; table: string },
  opts: ScanOptions = {},
): Promise<Omit<ConflictReport, 'registry'>> {
  const start = Date.now();
  const budget = opts.timeoutMs ?? DEFAULT_SCAN_MS;
  const users: MarkUser[] = [];
  const unreadable: Unreadable[] = [];
  const ctx: ScanContext = {
    transport: (p) => deps.transport(p), table: deps.table, deadline: start + budget, proc: opts.proc ?? realProc, skipOwn: opts.skipOwn === true,
    user: (u) => users.push(u), unreadable: (u) => unreadable.push(u),
  };
  const sources = opts.sources ?? SCAN_SOURCES;
  const done = new Set<ScanSource>();
  const runs = sources.map(async (s) => {
    try { await SCANNERS[s].scan(ctx); } catch (e) {
      ctx.unreadable({ source: s, what: SCANNERS[s].reads, reason: reasonOf(e), message: e instanceof Error ? e.message : String(e) });
    }
    done.add(s);
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(runs), new Promise<void>((r) => { timer = setTimeout(r, budget); })]);
  clearTimeout(timer);
  for (const s of sources) {
    if (!done.has(s)) unreadable.push({ source: s, what: SCANNERS[s].reads, reason: 'deadline', message: `not finished within ${budget} ms` });
  }
  // a snapshot: a scanner still running past the deadline adds to its own array, not to this one
  return { users: [...users], unreadable: [...unreadable], elapsedMs: Date.now() - start };
}
