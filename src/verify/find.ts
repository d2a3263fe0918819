/** The rule an id names, read back from the kernel (verify and ipft-args take ids as list prints them). */
import type { RuleRecord } from '../backends/backend.js';
import { isVia } from '../backends/index.js';
import { PktmarkError } from '../errors.js';
import type { Marker } from '../marker.js';
import type { MarkRule } from '../rule.js';

/** True for `via:…` words (an id), false for a mark `V[/M]`. */
export const looksLikeId = (word: string): boolean => word.includes(':') && isVia(word.split(':', 1)[0]);

export async function findRule(m: Marker, id: string): Promise<RuleRecord & { rule: MarkRule }> {
  if (!looksLikeId(id)) throw new PktmarkError('INVALID_ID', `${JSON.stringify(id)} is not a rule id (see pktmark list)`, { field: 'id' });
  const via = id.split(':', 1)[0] as MarkRule['via'];
  for (const r of await m.list({ via })) {
    if (r.id !== id) continue;
    if (!r.rule) throw new PktmarkError('UNSUPPORTED', `rule ${id} has parts pktmark does not model (${r.text}); its mark is unknown`, { field: 'id' });
    return r as RuleRecord & { rule: MarkRule };
  }
  throw new PktmarkError('NOT_FOUND', `rule ${id} does not exist in this namespace (see pktmark list)`, { field: 'id' });
}
