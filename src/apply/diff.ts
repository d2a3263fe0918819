/**
 * The diff of apply: desired rules against what the table holds, as steps. Pure (no kernel).
 *
 * Identity is the name where the desired rule has one (matched against the name in a managed
 * rule's userdata), otherwise the rule's normalized content (a multiset: two equal unnamed rules
 * match two kernel rules). Only rules apply made ("managed") are matched; `prune: 'all'` makes
 * every other rule of the table a candidate for removal too, `prune: false` removes nothing.
 *
 * Order: the matched rules that already stand in the desired relative order (the longest
 * increasing run of their kernel positions) stay where they are; a matched rule out of that
 * run must move, which nftables can only do by delete + insert (the plan says so, and the
 * counter is carried over).
 */
import type { MarkRule } from '../rule.js';
import type { DesiredRule, DesiredState } from './desired.js';
import { chainNameOf, type CurrentRule } from './state.js';

export type Prune = boolean | 'all';
export type StepAction = 'keep' | 'add' | 'replace' | 'move' | 'remove';

export interface Step {
  readonly action: StepAction;
  readonly chain: string;
  /** keep, add, replace, move: the desired rule */
  readonly desired?: DesiredRule;
  /** keep, replace, move, remove: the kernel's rule */
  readonly current?: CurrentRule;
  /** why a rule moves or is replaced */
  readonly reason?: string;
}

export interface Counts { readonly added: number; readonly removed: number; readonly replaced: number; readonly moved: number; readonly kept: number }

export interface Plan {
  /** desired order (keep, add, replace, move), then the removals in kernel order */
  readonly steps: readonly Step[];
  readonly counts: Counts;
}

/**
 * The content identity of a rule: its normalized fields, top-level keys sorted, hook filled in.
 * Nested values (addresses, rates) come from one constructor each in normalizeRule, on both
 * sides (input and kernel decode), so their own key order is already fixed. Cached per rule.
 */
const keys = new WeakMap<MarkRule, string>();
const isCidr = (v: object): v is { address: string; prefix: number; negate?: boolean } => typeof (v as { address?: unknown }).address === 'string';
/** MarkRule's fields in a fixed order (sorting keys per rule costs more than the rest of the diff); fields added later go after, sorted */
const ORDER = ['via', 'family', 'src', 'dst', 'proto', 'sport', 'dport', 'iif', 'oif', 'hook', 'dev', 'direction', 'prio', 'cgroup', 'mark', 'mask', 'xor', 'rate', 'comment'] as const;
const KNOWN = new Set<string>(ORDER);
const part = (f: string, v: unknown): string =>
  (typeof v !== 'object' || v === null ? `${f}=${String(v)};` : isCidr(v) ? `${f}=${v.address}/${v.prefix}${v.negate ? '!' : ''};` : `${f}=${JSON.stringify(v)};`);
export function ruleKey(r: MarkRule): string {
  let k = keys.get(r);
  if (k !== undefined) return k;
  const o = r as unknown as Record<string, unknown>;
  k = '';
  for (const f of ORDER) {
    const v = f === 'hook' && r.via === 'nft' ? r.hook ?? 'prerouting' : o[f];
    if (v !== undefined) k += part(f, v);
  }
  let extra: string[] | undefined;
  for (const f in o) if (!KNOWN.has(f) && o[f] !== undefined) (extra ??= []).push(f);
  if (extra) for (const f of extra.sort()) k += part(f, o[f]);
  keys.set(r, k);
  return k;
}

/** Indices (into `xs`) of one longest strictly increasing subsequence. */
export function longestIncreasing(xs: readonly number[]): Set<number> {
  const tails: number[] = [];
  const prev = new Array<number>(xs.length).fill(-1);
  for (let i = 0; i < xs.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[tails[mid]] < xs[i]) lo = mid + 1; else hi = mid; }
    if (lo > 0) prev[i] = tails[lo - 1];
    tails[lo] = i;
  }
  const out = new Set<number>();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) out.add(i);
  return out;
}

/**
 * Kernel rules are referred to by their index in `current` (which is also their kernel position
 * within a chain), matches in typed arrays: a 10,000-rule diff makes no per-rule map entry or
 * match object, which was most of a warm agent's garbage.
 */
export function diff(desired: DesiredState, current: readonly CurrentRule[], prune: Prune = true): Plan {
  const byName = new Map<string, number>();
  // a content key's kernel rules, oldest first: one index, or a queue when several rules are equal
  const byKey = new Map<string, number | number[]>();
  current.forEach((c, i) => {
    if (!c.managed) return;
    if (c.name !== undefined) { if (!byName.has(c.name)) byName.set(c.name, i); return; }
    if (!c.rule) return;
    const k = ruleKey(c.rule);
    const q = byKey.get(k);
    if (q === undefined) byKey.set(k, i); else if (typeof q === 'number') byKey.set(k, [q, i]); else q.push(i);
  });
  const n = desired.rules.length;
  const used = new Uint8Array(current.length);
  /** per desired rule: the index of its kernel rule, or -1 */
  const match = new Int32Array(n).fill(-1);
  /** per desired rule with a match: 1 when the contents are equal */
  const same = new Uint8Array(n);
  const chainOf: string[] = new Array<string>(n);
  desired.rules.forEach((d, j) => {
    chainOf[j] = chainNameOf(d.rule);
    let ci: number | undefined;
    if (d.name !== undefined) {
      ci = byName.get(d.name);
      if (ci === undefined) return;
      const c = current[ci];
      same[j] = c.rule !== undefined && ruleKey(c.rule) === ruleKey(d.rule) ? 1 : 0;
    } else {
      if (byKey.size === 0) return;
      const k = ruleKey(d.rule);
      const q = byKey.get(k);
      if (q === undefined) return;
      if (typeof q === 'number') { ci = q; byKey.delete(k); } else { ci = q.shift(); if (ci === undefined) return; }
      same[j] = 1;
    }
    used[ci] = 1;
    match[j] = ci;
  });

  // per chain: which matched rules may stay in place
  const stays = new Uint8Array(n);
  const chains = new Map<string, number[]>();
  for (let j = 0; j < n; j++) {
    const ci = match[j];
    if (ci < 0 || current[ci].chain !== chainOf[j]) continue;
    const list = chains.get(chainOf[j]);
    if (list) list.push(j); else chains.set(chainOf[j], [j]);
  }
  for (const list of chains.values()) {
    const keep = longestIncreasing(list.map((j) => match[j]));
    list.forEach((j, i) => { if (keep.has(i)) stays[j] = 1; });
  }

  const steps: Step[] = [];
  let added = 0; let replaced = 0; let moved = 0; let kept = 0; let removed = 0;
  desired.rules.forEach((d, j) => {
    const chain = chainOf[j];
    const ci = match[j];
    if (ci < 0) { steps.push({ action: 'add', chain, desired: d }); added++; return; }
    const c = current[ci];
    if (stays[j]) {
      if (same[j]) { steps.push({ action: 'keep', chain, desired: d, current: c }); kept++; }
      else { steps.push({ action: 'replace', chain, desired: d, current: c, reason: 'content changed' }); replaced++; }
      return;
    }
    const reason = c.chain !== chain ? `hook changed from ${c.chain}` : 'out of order';
    steps.push({ action: 'move', chain, desired: d, current: c, reason }); moved++;
  });
  if (prune !== false) {
    current.forEach((c, i) => {
      if (used[i] || (!c.managed && prune !== 'all')) return;
      steps.push({ action: 'remove', chain: c.chain, current: c }); removed++;
    });
  }
  return { steps, counts: { added, removed, replaced, moved, kept } };
}

/** Whether the plan changes anything in the kernel. */
export const isEmpty = (p: Plan): boolean => p.counts.added + p.counts.removed + p.counts.replaced + p.counts.moved === 0;
