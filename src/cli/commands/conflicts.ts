/**
 * `pktmark conflicts [V[/M]] [--source S,…] [--timeout MS]`: who in this network namespace
 * touches which mark bits, live; with a mark, also the fwmark registry's view of it. Reads only.
 */
import type { ConflictReport } from '../../conflicts/scan.js';
import type { MarkUser } from '../../conflicts/types.js';
import { safeField } from '../../terminal-text.js';
import { withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import type { GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions, str } from '../options.js';
import { table } from '../output.js';
import { noDryRun } from '../global.js';

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** The --json shape (src/cli/README-json.md): numbers as 0x-hex strings, like `marks --json`. */
export function conflictsJson(r: ConflictReport): Record<string, unknown> {
  return {
    users: r.users.map((u) => ({ ...u, bits: hex(u.bits), ...(u.values ? { values: u.values.map(hex) } : {}) })),
    unreadable: r.unreadable,
    ...(r.registry ? { registry: { ...r.registry, mark: hex(r.registry.mark), mask: hex(r.registry.mask), matches: r.registry.matches.map((c) => ({ ...c, bits: hex(c.bits) })) } } : {}),
    elapsedMs: r.elapsedMs,
  };
}

const userRow = (u: MarkUser): string[] => [
  u.source, u.owner, `${u.action}${u.on === 'conntrack' ? ' ct' : ''}`, hex(u.bits), u.values?.map(hex).join(',') ?? '-', u.detail,
];

export function printConflicts(r: ConflictReport, io: Io): void {
  if (r.users.length === 0) io.out('no live mark user found');
  else for (const l of table(['SOURCE', 'OWNER', 'ACTION', 'BITS', 'VALUES', 'DETAIL'], r.users.map(userRow))) io.out(l);
  if (r.unreadable.length) {
    io.out('\nnot read:');
    for (const l of table(['SOURCE', 'WHAT', 'REASON', 'MESSAGE'], r.unreadable.map((u) => [u.source, u.what, u.reason, u.message]))) io.out(l);
  }
  if (r.registry) {
    io.out(`\nregistry (who might use ${hex(r.registry.mark)}/${hex(r.registry.mask)}; informative):`);
    if (r.registry.matches.length === 0) io.out('  no known user of these bits');
    for (const c of r.registry.matches) io.out(`  ${safeField(c.software)}: ${c.kind === 'bits' ? `bits ${hex(c.bits)}` : 'same value'} — ${safeField(c.detail)}`);
    io.out(r.registry.attribution);
  }
}

export async function conflictsCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('conflicts', argv, base, { '--timeout': { value: 'milliseconds' }, '--source': { value: 'nft,tc,…' } }, g, { max: 1, what: 'V[/M]' });
  if (p.help) { io.out(helpText('conflicts')); return EXIT_OK; }
  noDryRun('conflicts', g);
  const { SCAN_SOURCES } = await import('../../conflicts/scanners.js');
  const t = str(p, '--timeout');
  const timeoutMs = t === undefined ? undefined : Number(t);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= 600000)) {
    throw new UsageError('INVALID_OPTION', `--timeout ${JSON.stringify(t)} is not 1-600000 milliseconds`, { field: '--timeout' });
  }
  const s = str(p, '--source');
  const sources = s?.split(',');
  for (const x of sources ?? []) {
    if (!(SCAN_SOURCES as string[]).includes(x)) throw new UsageError('INVALID_OPTION', `--source ${JSON.stringify(x)} is not one of ${SCAN_SOURCES.join(', ')}`, { field: '--source' });
  }
  const mark = p.positional[0];
  const r = await withMarker(g, (m) => m.conflicts({
    ...(timeoutMs ? { timeoutMs } : {}), ...(sources ? { sources: sources as typeof SCAN_SOURCES } : {}), ...(mark !== undefined ? { mark } : {}),
  }));
  if (g.json) io.out(JSON.stringify(conflictsJson(r)));
  else printConflicts(r, io);
  return EXIT_OK;
}
