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
  /** the kernel rules no step names (not apply's, or kept by prune: false), in kernel order: they stay as they are */
  readonly untouched: readonly CurrentRule[];
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
/**
 * A key's parts, joined at the end: `k += part` would leave each key a tree of ~16 V8 cons strings
 * (32 bytes a node, plus every part kept apart), and the agent keeps one key per rule for its
 * life: 6.5 MB for 10,000 rules, against 0.9 MB as flat strings. (Reused: keys are made one at a time.)
 */
const parts: string[] = [];
export function ruleKey(r: MarkRule): string {
  let k = keys.get(r);
  if (k !== undefined) return k;
  const o = r as unknown as Record<string, unknown>;
  parts.length = 0;
  for (const f of ORDER) {
    const v = f === 'hook' && r.via === 'nft' ? r.hook ?? 'prerouting' : o[f];
    if (v !== undefined) parts.push(part(f, v));
  }
  let extra: string[] | undefined;
  for (const f in o) if (!KNOWN.has(f) && o[f] !== undefined) (extra ??= []).push(f);
  if (extra) for (const f of extra.sort()) parts.push(part(f, o[f]));
  k = parts.join('');
  parts.length = 0;
  keys.set(r, k);
  return k;
}

/**
 * Scratch kept across diffs, grown as needed: a warm agent diffs 10,000 rules on every change,
 * and fresh memory is what such a diff mostly cost (a 10,000-entry Map or Set each time, and
 * their growth). `keyIds` numbers the content keys recent diffs saw, so a diff looks its keys up
 * instead of inserting them all again. Only kernel rules' keys go in, so it is emptied once it
 * holds 1,024 more than the table has rules: the keys of rules gone since stay that few (the
 * agent's RSS), and a 1% change of 10,000 re-inserts them every tenth apply or so.
 */
const keyIds = new Map<string, number>();
let ints = new Int32Array(0);
let bytes = new Uint8Array(0);

/** `count` zeroed bytes and `intCount` ints (reused; not valid after the next diff). */
function scratch(count: number, intCount: number): { b: Uint8Array; i: Int32Array } {
  if (bytes.length < count) bytes = new Uint8Array(Math.max(count, bytes.length * 2));
  else bytes.fill(0, 0, count);
  if (ints.length < intCount) ints = new Int32Array(Math.max(intCount, ints.length * 2));
  return { b: bytes, i: ints };
}

/**
 * Marks in `keep` (by `at[k]`) one longest strictly increasing subsequence of `xs[0..len)`, the one
 * patience sorting with back links finds (ties: the earliest tail that is not smaller is replaced).
 * `tails` and `prev` are scratch of `len` ints each.
 */
function keepIncreasing(xs: Int32Array, at: Int32Array, len: number, tails: Int32Array, prev: Int32Array, keep: Uint8Array): void {
  let size = 0;
  for (let i = 0; i < len; i++) {
    let lo = 0;
    let hi = size;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[tails[mid]] < xs[i]) lo = mid + 1; else hi = mid; }
    prev[i] = lo > 0 ? tails[lo - 1] : -1;
    tails[lo] = i;
    if (lo === size) size++;
  }
  for (let i = size ? tails[size - 1] : -1; i >= 0; i = prev[i]) keep[at[i]] = 1;
}

/**
 * Kernel rules are referred to by their index in `current` (which is also their kernel position
 * within a chain), matches and the queues of equal rules in typed arrays: a 10,000-rule diff
 * makes no per-rule map entry or match object.
 */
export function diff(desired: DesiredState, current: readonly CurrentRule[], prune: Prune = true): Plan {
  const n = desired.rules.length;
  const m = current.length;
  if (keyIds.size > m + 1024) keyIds.clear();
  // bytes: used (m), same (n), stays (n); ints: match (n), next (m), then per key id head and tail, then LIS scratch (4n)
  const idRoom = keyIds.size + m;
  const { b, i: w } = scratch(m + 2 * n, 5 * n + m + 2 * idRoom);
  const used = b.subarray(0, m);
  const same = b.subarray(m, m + n);
  const stays = b.subarray(m + n, m + 2 * n);
  /** per desired rule: the index of its kernel rule, or -1 */
  const match = w.subarray(0, n);
  match.fill(-1);
  /** per kernel rule: the next kernel rule of its content key (oldest first), or -1 */
  const next = w.subarray(n, n + m);
  const head = w.subarray(n + m, n + m + idRoom);
  const tail = w.subarray(n + m + idRoom, n + m + 2 * idRoom);
  head.fill(-1);
  let byName: Map<string, number> | undefined;
  let unnamed = false;
  for (let i = 0; i < m; i++) {
    const c = current[i];
    if (!c.managed) continue;
    if (c.name !== undefined) { byName ??= new Map(); if (!byName.has(c.name)) byName.set(c.name, i); continue; }
    if (!c.rule) continue;
    const k = ruleKey(c.rule);
    let id = keyIds.get(k);
    if (id === undefined) { id = keyIds.size; keyIds.set(k, id); }
    next[i] = -1;
    if (head[id] < 0) head[id] = i; else next[tail[id]] = i;
    tail[id] = i;
    unnamed = true;
  }
  const chainOf: string[] = new Array<string>(n);
  for (let j = 0; j < n; j++) {
    const d = desired.rules[j];
    chainOf[j] = chainNameOf(d.rule);
    let ci: number | undefined;
    if (d.name !== undefined) {
      ci = byName?.get(d.name);
      if (ci === undefined) continue;
      const c = current[ci];
      same[j] = c.rule !== undefined && ruleKey(c.rule) === ruleKey(d.rule) ? 1 : 0;
    } else {
      if (!unnamed) continue;
      const id = keyIds.get(ruleKey(d.rule));
      if (id === undefined || id >= idRoom) continue;
      ci = head[id];
      if (ci < 0) continue;
      head[id] = next[ci];
      same[j] = 1;
    }
    used[ci] = 1;
    match[j] = ci;
  }

  // per chain: which matched rules may stay in place (the chains are the few base chains)
  const base = n + m + 2 * idRoom;
  const xs = w.subarray(base, base + n);
  const at = w.subarray(base + n, base + 2 * n);
  const tails = w.subarray(base + 2 * n, base + 3 * n);
  const prev = w.subarray(base + 3 * n, base + 4 * n);
  const chains: string[] = [];
  for (let j = 0; j < n; j++) {
    const ci = match[j];
    if (ci >= 0 && current[ci].chain === chainOf[j] && !chains.includes(chainOf[j])) chains.push(chainOf[j]);
  }
  for (const h of chains) {
    let len = 0;
    for (let j = 0; j < n; j++) {
      const ci = match[j];
      if (ci < 0 || chainOf[j] !== h || current[ci].chain !== h) continue;
      xs[len] = ci; at[len] = j; len++;
    }
    keepIncreasing(xs, at, len, tails, prev, stays);
  }

  const steps: Step[] = [];
  let added = 0; let replaced = 0; let moved = 0; let kept = 0; let removed = 0;
  for (let j = 0; j < n; j++) {
    const d = desired.rules[j];
    const chain = chainOf[j];
    const ci = match[j];
    if (ci < 0) { steps.push({ action: 'add', chain, desired: d }); added++; continue; }
    const c = current[ci];
    if (stays[j]) {
      if (same[j]) { steps.push({ action: 'keep', chain, desired: d, current: c }); kept++; }
      else { steps.push({ action: 'replace', chain, desired: d, current: c, reason: 'content changed' }); replaced++; }
      continue;
    }
    const reason = c.chain !== chain ? `hook changed from ${c.chain}` : 'out of order';
    steps.push({ action: 'move', chain, desired: d, current: c, reason }); moved++;
  }
  const untouched: CurrentRule[] = [];
  for (let i = 0; i < m; i++) {
    const c = current[i];
    if (used[i]) continue;
    if (prune === false || (!c.managed && prune !== 'all')) { untouched.push(c); continue; }
    steps.push({ action: 'remove', chain: c.chain, current: c }); removed++;
  }
  return { steps, counts: { added, removed, replaced, moved, kept }, untouched };
}

/** Whether the plan changes anything in the kernel. */
export const isEmpty = (p: Plan): boolean => p.counts.added + p.counts.removed + p.counts.replaced + p.counts.moved === 0;
