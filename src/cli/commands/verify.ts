/**
 * `pktmark verify ID [--packets N | --seconds S]`: watch real traffic and report whether the
 * rule's mark survives to the later hooks. Ctrl-C stops the watch early: the observers are
 * removed and the counts so far printed (exit 130). A second Ctrl-C exits at once — the
 * kernel then removes the owner-flagged observer table with the process's socket.
 */
import type { VerifyReport } from '../../verify/index.js';
import { withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions, str } from '../options.js';

export const EXIT_INTERRUPTED = 130;

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function number(v: string | undefined, name: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError('INVALID_OPTION', `${name} ${JSON.stringify(v)} is not a ${integer ? 'whole number ≥ 1' : 'positive number'}`, { field: name });
  }
  return n;
}

/** The --json document (src/cli/README-json.md, "verify"). */
export function verifyJson(r: VerifyReport): Record<string, unknown> {
  return {
    id: r.id, mark: hex(r.mark), mask: hex(r.mask), observerTable: r.observerTable, stoppedBy: r.stoppedBy, ms: r.ms,
    traffic: r.traffic, marked: r.marked, kept: r.kept, points: r.points,
    losses: r.losses.map((l) => ({ ...l, candidates: l.candidates.map((c) => ({ ...c, bits: hex(c.bits) })) })),
    lines: r.lines, limits: r.limits,
  };
}

export async function verifyCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('verify', argv, base, { '--packets': { value: 'a number' }, '--seconds': { value: 'a number' } }, g, { max: 1, what: 'ID' });
  if (p.help) { io.out(helpText('verify')); return EXIT_OK; }
  noDryRun('verify', g);
  const id = p.positional[0];
  if (id === undefined) throw new UsageError('INVALID_OPTION', 'verify needs a rule ID (see pktmark list)', { field: 'id', hint: 'e.g. pktmark verify nft:prerouting:3 --packets 100' });
  const packets = number(str(p, '--packets'), '--packets', true);
  const seconds = number(str(p, '--seconds'), '--seconds', false);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    // the second Ctrl-C does not wait for the cleanup: the kernel does it (owner-flagged table)
    if (++interrupts > 1) process.exit(EXIT_INTERRUPTED);
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const report = await withMarker(g, (m) => m.verify(id, {
      ...(packets !== undefined ? { packets } : {}), ...(seconds !== undefined ? { seconds } : {}), signal: ac.signal,
      onStart: (s) => io.err(`watching ${id}: observers in table inet ${s.table} at ${s.points.join(', ')} (${packets !== undefined ? `until ${packets} packets` : ''}${packets !== undefined && seconds !== undefined ? ' or ' : ''}${seconds !== undefined || packets === undefined ? `${seconds ?? 10} s` : ''}; Ctrl-C stops)`),
    }));
    if (g.json) io.out(JSON.stringify(verifyJson(report)));
    else for (const l of report.lines) io.out(l);
    return report.stoppedBy === 'aborted' ? EXIT_INTERRUPTED : EXIT_OK;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
