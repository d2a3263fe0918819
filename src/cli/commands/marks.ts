/** `pktmark marks V[/M]`: which other software uses the bits this mark changes (fwmark registry). */
import { parseMarkSpec } from '../../rule.js';
import { markConflicts, REGISTRY_ATTRIBUTION } from '../../registry/index.js';
import { EXIT_OK } from '../errors.js';
import { parseOptions } from '../options.js';
import type { GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export async function marksCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('marks', argv, base, {}, g, { max: 1, what: 'V[/M]' });
  if (p.help || p.positional.length === 0) { io.out(helpText('marks')); return EXIT_OK; }
  const { mark, mask } = parseMarkSpec(p.positional[0], undefined, true);
  const conflicts = markConflicts(mark, mask);
  if (g.json) {
    io.out(JSON.stringify({ mark: hex(mark), mask: hex(mask), conflicts: conflicts.map((c) => ({ ...c, bits: hex(c.bits) })), attribution: REGISTRY_ATTRIBUTION }));
    return EXIT_OK;
  }
  if (conflicts.length === 0) io.out(`no known user of the bits ${hex(mask)} changes`);
  for (const c of conflicts) {
    io.out(`${c.software}${c.inRegistry ? '' : ' (not in the registry)'}: ${c.kind === 'bits' ? `bits ${hex(c.bits)}` : 'same value'} — ${c.detail}`);
  }
  io.out(`\n${REGISTRY_ATTRIBUTION}`);
  return EXIT_OK;
}
