/**
 * What verify found, from the counters: how many packets of the rule's traffic were marked, how
 * many still carried the mark at each later point, and where the mark was lost, with the nft
 * rules that could have overwritten it there. Pure: counts and writers in, report out.
 */
import { seesFamily, writerText, type MarkWriter } from './candidates.js';
import type { Counts } from './observers.js';
import { type HookName, type ObservationPoint, type PointName, type VerifyPlan } from './plan.js';
import type { StopReason } from './counting.js';

export interface VerifyPointReport {
  readonly name: PointName;
  readonly hook: HookName;
  readonly priority: number;
  /** packets of the rule's traffic seen here */
  readonly packets: number;
  /** of those, carrying the rule's mark (`mark & mask == value`) */
  readonly withMark: number;
}

export interface VerifyLoss {
  readonly from: PointName;
  readonly to: readonly PointName[];
  /** packets that had the mark at `from` and lacked it at `to` */
  readonly overwritten: number;
  /** packets with the mark at `from` */
  readonly of: number;
  /** nft rules between the two points that write bits of the mask */
  readonly candidates: readonly MarkWriter[];
}

export interface VerifyReport {
  readonly id: string;
  readonly mark: number;
  readonly mask: number;
  /** the owner-flagged table the observers lived in (gone when verify returns) */
  readonly observerTable: string;
  readonly stoppedBy: StopReason;
  readonly ms: number;
  /** the rule's traffic at the marking point, and how many of those packets carried the mark */
  readonly traffic: number;
  readonly marked: number;
  readonly points: readonly VerifyPointReport[];
  readonly losses: readonly VerifyLoss[];
  /** true when every marked packet kept the mark to the last point it reached */
  readonly kept: boolean;
  /** the report as lines of text (what the CLI prints) */
  readonly lines: readonly string[];
  readonly limits: readonly string[];
}

const unmarked = (p: VerifyPointReport): number => Math.max(0, p.packets - p.withMark);

/** Whether a writer at (hook, priority) runs after point `a` and before (or with) one of `bs`. */
export function between(w: Pick<MarkWriter, 'hook' | 'priority'>, a: ObservationPoint, bs: readonly ObservationPoint[]): boolean {
  return bs.some((b) => (a.hook === b.hook
    ? w.hook === a.hook && w.priority >= a.priority && w.priority <= b.priority
    : (w.hook === a.hook && w.priority >= a.priority) || (w.hook === b.hook && w.priority <= b.priority)));
}

/** The points' counts and the edges where the mark went missing (before candidates are known). */
export function lossesOf(plan: VerifyPlan, counts: Counts): { points: VerifyPointReport[]; losses: Omit<VerifyLoss, 'candidates'>[] } {
  const points = plan.points.map((p) => ({ name: p.name, hook: p.hook, priority: p.priority, packets: counts.get(p.name)?.traffic ?? 0, withMark: counts.get(p.name)?.kept ?? 0 }));
  const at = (n: PointName): VerifyPointReport => points.find((p) => p.name === n)!;
  const losses: Omit<VerifyLoss, 'candidates'>[] = [];
  for (const e of plan.edges) {
    const a = at(e.from);
    const bs = e.to.map(at).filter((b) => b.packets > 0);
    if (bs.length === 0 || a.withMark === 0) continue;
    const overwritten = bs.reduce((s, b) => s + unmarked(b), 0) - unmarked(a);
    if (overwritten > 0) losses.push({ from: e.from, to: bs.map((b) => b.name), overwritten: Math.min(overwritten, a.withMark), of: a.withMark });
  }
  return { points, losses };
}

export function candidatesFor(plan: VerifyPlan, loss: Omit<VerifyLoss, 'candidates'>, writers: readonly MarkWriter[]): MarkWriter[] {
  const point = (n: PointName): ObservationPoint => plan.points.find((p) => p.name === n)!;
  return writers.filter((w) => seesFamily(w, plan.match.family) && (w.bits & plan.mask) !== 0 && between(w, point(loss.from), loss.to.map(point)));
}

const label = (p: Pick<ObservationPoint, 'name' | 'hook' | 'priority'>): string => (p.name === 'marked' ? `${p.hook} priority ${p.priority}` : p.name);

export function buildReport(a: {
  id: string; plan: VerifyPlan; table: string; stoppedBy: StopReason; ms: number;
  points: readonly VerifyPointReport[]; losses: readonly VerifyLoss[];
}): VerifyReport {
  const { plan, points, losses } = a;
  const first = points[0];
  const lines: string[] = [];
  const hex = (n: number): string => `0x${n.toString(16)}`;
  const what = `mark ${hex(plan.mark)}${plan.mask === 0xffffffff ? '' : `/${hex(plan.mask)}`}`;
  const took = `${(a.ms / 1000).toFixed(1)} s, stopped by ${a.stoppedBy === 'packets' ? 'the packet count' : a.stoppedBy === 'seconds' ? 'the time limit' : 'interruption'}`;
  lines.push(`${a.id}: ${what}; ${first.packets} packets of the rule's traffic, ${first.withMark} marked (after ${label(first)}; ${took})`);
  let kept = false;
  if (first.packets === 0) lines.push('no packet of the rule\'s traffic was seen: send some (verify sends none) or watch longer');
  else if (first.withMark === 0) lines.push('no packet of the rule\'s traffic carried the mark right after the rule');
  for (const p of points.slice(1)) {
    if (p.packets > 0) lines.push(`  at the end of ${p.name}: ${p.withMark}/${p.packets} packets carry the mark`);
  }
  for (const l of losses) {
    const who = l.candidates.length ? l.candidates.map(writerText).join('; ') : 'none in nft (a tc filter, a bpf program or a socket may have changed it)';
    lines.push(`overwritten in ${l.overwritten}/${l.of} packets between ${label(points.find((p) => p.name === l.from)!)} and ${l.to.join(' or ')}; candidates: ${who}`);
  }
  // the ends of the path (input and postrouting, or postrouting): where the marked packets arrive
  const ends = points.filter((p) => !plan.edges.some((e) => e.from === p.name) && p.packets > 0);
  const arrived = ends.reduce((s, p) => s + p.packets, 0);
  if (losses.length === 0 && first.withMark > 0 && ends.length > 0) {
    kept = true;
    lines.push(`mark kept ${ends.reduce((s, p) => s + p.withMark, 0)}/${first.withMark} to ${ends.map((p) => p.name).join(' and ')}`);
  }
  if (first.packets > 0 && arrived < first.packets) {
    lines.push(`${first.packets - arrived} packets of the rule's traffic were not seen at the end of ${plan.points.length > 3 ? 'input or postrouting' : 'postrouting'} (dropped, or NAT rewrote what the rule matches)`);
  }
  return {
    id: a.id, mark: plan.mark, mask: plan.mask, observerTable: a.table, stoppedBy: a.stoppedBy, ms: a.ms,
    traffic: first.packets, marked: first.withMark, points, losses, kept, lines, limits: plan.limits,
  };
}

