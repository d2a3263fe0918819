/**
 * `verify(id)`: is the mark a rule sets still there further down the packet path? Observers
 * (observers.ts) count the rule's own traffic at each point (plan.ts) while real traffic flows
 * (counting.ts); the counts, and the nft rules that write the mark where it went missing
 * (candidates.ts), make the report (report.ts). The observer table is deleted afterwards —
 * on success, error and abort — and, being owner-flagged, by the kernel if this process dies.
 */
import { PktmarkError } from '../errors.js';
import type { Marker } from '../marker.js';
import type { Transport } from '../transport/transport.js';
import { findRule } from './find.js';
import { planFor } from './plan.js';
import { Observers, observerTableName } from './observers.js';
import { checkStop, countUntil, type StopWhen } from './counting.js';
import { markWriters } from './candidates.js';
import { buildReport, candidatesFor, lossesOf, type VerifyLoss, type VerifyReport } from './report.js';

export interface VerifyOptions extends StopWhen {
  /** called once the observers are in place (the CLI prints "watching…"; tests start sending) */
  readonly onStart?: (info: { readonly table: string; readonly points: readonly string[] }) => void;
}

export type { VerifyReport, VerifyLoss, VerifyPointReport } from './report.js';
export type { MarkWriter } from './candidates.js';
export type { StopReason } from './counting.js';

/** `open`: a new nf_tables transport of the Marker's namespace, used by verify alone and closed by it. */
export async function verify(m: Marker, id: string, opts: VerifyOptions, open: () => Promise<Transport>): Promise<VerifyReport> {
  if (opts === null || typeof opts !== 'object') throw new PktmarkError('INVALID_OPTION', 'verify options must be an object', { field: 'options' });
  const stop = checkStop(opts);
  const rec = await findRule(m, id);
  const plan = planFor(rec.rule);
  const table = observerTableName(process.pid, (Math.random() * 0x100000000) >>> 0);
  const t = await open();
  try {
    const obs = await Observers.install(t, plan, table);
    let removed = false;
    try {
      opts.onStart?.({ table, points: plan.points.map((p) => p.name) });
      const { counts, stoppedBy, ms } = await countUntil(() => obs.read(), 'marked', stop);
      const found = lossesOf(plan, counts);
      await obs.remove();
      removed = true;
      // the rest of the namespace is read only when there is something to explain
      const writers = found.losses.length ? await markWriters(t, table) : [];
      const losses: VerifyLoss[] = found.losses.map((l) => ({ ...l, candidates: candidatesFor(plan, l, writers) }));
      return buildReport({ id, plan, table, stoppedBy, ms, points: found.points, losses });
    } finally {
      if (!removed) {
        try { await obs.remove(); } catch { /* closing the socket removes the owner-flagged table anyway */ }
      }
    }
  } finally {
    await t.close();
  }
}
