/**
 * The entry points that need no kernel: encode() (the bytes `add` would send), encodePrograms()
 * and explain(), with the input checks Marker shares with them (normalizeRules, validateTable,
 * one backend per call). "Unit-test rule encoding without root" lives here; marker.ts is the
 * facade that talks to the kernel.
 */
import { PktmarkError } from './errors.js';
import type { MarkRule, MarkRuleInput, Via } from './rule.js';
import { normalizeRule } from './normalize.js';
import type { AddOptions, Backend, EncodeContext } from './backends/backend.js';
import { BACKENDS } from './backends/index.js';

export const DEFAULT_TABLE = 'pktmark';

/** nft object names: 1..255 bytes (NFT_NAME_MAXLEN 256 with the NUL), and printable. */
export function validateTable(table: unknown): string {
  if (typeof table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.\-]{0,254}$/.test(table)) {
    throw new PktmarkError('INVALID_OPTION', `table ${JSON.stringify(table)} must be 1-255 characters: letters, digits, _ . - (starting with a letter or _)`, { field: 'table' });
  }
  return table;
}

/**
 * Lists whose rules were normalized already, by whoever built them (an iptables-restore's plan),
 * each with its normalized rules. The lists, their rules and those rules' normalized forms are
 * frozen when they are entered, so nothing can change between that check and an add of the list.
 */
const checkedLists = new WeakMap<readonly MarkRuleInput[], readonly MarkRule[]>();

/**
 * Remember that `normalized` is normalizeRule of each of `inputs` (in order), so that an add of
 * `inputs` need not check them again (a 10,000-rule restore's second normalization was a sixth of
 * its user-space time). For flat rules only: each input's fields are strings and numbers, and a
 * normalized rule's only objects are its src/dst matches; everything is frozen here.
 */
export function rememberNormalized(inputs: readonly MarkRuleInput[], normalized: readonly MarkRule[]): void {
  if (inputs.length !== normalized.length) throw new Error('rememberNormalized: lists of different lengths');
  for (let i = 0; i < inputs.length; i++) {
    const r = normalized[i];
    Object.freeze(inputs[i]);
    if (r.src !== undefined) Object.freeze(r.src);
    if (r.dst !== undefined) Object.freeze(r.dst);
    Object.freeze(r);
  }
  checkedLists.set(Object.freeze(inputs), Object.freeze(normalized));
}

/** Normalize one rule or many; the error of a rule in an array names its index. */
export function normalizeRules(input: MarkRuleInput | readonly MarkRuleInput[]): MarkRule[] {
  if (!Array.isArray(input)) return [normalizeRule(input as MarkRuleInput)];
  const list = input as readonly MarkRuleInput[];
  const checked = checkedLists.get(list);
  if (checked !== undefined) return checked.slice();
  const out = new Array<MarkRule>(list.length);
  // one try around the loop, not one per rule (a closure with a try/catch per rule was a
  // measurable part of a cold 200,000-rule encode); `i` says which rule failed
  let i = 0;
  try {
    for (; i < list.length; i++) {
      const r = list[i];
      // a hole stays a hole, as Array.prototype.map leaves it
      if (r === undefined && !(i in list)) continue;
      out[i] = normalizeRule(r);
    }
  } catch (e) {
    throw indexed(e, i);
  }
  return out;
}

/** The one backend of these rules: a batch is applied atomically by one backend, so one call cannot mix vias. */
export function splitByVia(rules: readonly MarkRule[]): Backend {
  // a loop, not a Set of a mapped copy: one via is the usual case, so nothing is allocated for it
  let via: Via | undefined;
  let mixed = false;
  for (let i = 0; i < rules.length && !mixed; i++) {
    const r = rules[i];
    if (r === undefined) continue; // a hole, as map() skips it
    if (via === undefined) via = r.via; else if (r.via !== via) mixed = true;
  }
  if (mixed) {
    const vias = new Set(rules.map((r) => r.via));
    throw new PktmarkError('INVALID_ARGUMENT', `one add cannot mix via ${[...vias].map((v) => JSON.stringify(v)).join(' and ')} rules: only one backend can apply a batch atomically`, { field: 'via', hint: 'add them in two calls' });
  }
  return BACKENDS[rules[0].via];
}

/** The messages `add` would send, without a kernel: the "unit-test rule encoding without root" entry. */
export function encode(input: MarkRuleInput | readonly MarkRuleInput[], opts: { table?: string; ifindex?: (dev: string) => number } & AddOptions = {}): Uint8Array[] {
  const context = (table: string): EncodeContext => {
    let seq = 0;
    return { table, nextSeq: () => ++seq, ...(opts.ifindex ? { ifindex: opts.ifindex } : {}) };
  };
  if (Array.isArray(input) && opts.before === undefined && !opts.first) {
    const streamed = encodeStreamed(input as readonly MarkRuleInput[], opts.table ?? DEFAULT_TABLE, context);
    if (streamed) return streamed;
  }
  const rules = normalizeRules(input);
  const ctx = context(validateTable(opts.table ?? DEFAULT_TABLE));
  return splitByVia(rules).encodeAdd(rules, ctx, { ...(opts.before !== undefined ? { before: opts.before } : {}), ...(opts.first ? { first: true } : {}) });
}

/**
 * encode()'s bulk path: each input validated just before its message is written (the backend's
 * encodeAddStream), so a 200,000-rule encode keeps no normalized rule alive. Undefined when that
 * does not apply (a bad table name, a first rule of a backend without it, rules it leaves to
 * encodeAdd): then encode() does it the classic way, and reports what that reports. A bad rule
 * throws here as normalizeRules would throw for it: no rule before it can fail, and its index is named.
 */
function encodeStreamed(list: readonly MarkRuleInput[], table: string, context: (table: string) => EncodeContext): Uint8Array[] | undefined {
  if (list.length === 0 || !(0 in list)) return undefined;
  try { validateTable(table); } catch { return undefined; }
  let i = 0;
  let rule: MarkRule;
  try {
    rule = normalizeRule(list[0]);
  } catch (e) {
    throw indexed(e, 0);
  }
  const backend = BACKENDS[rule.via];
  if (!backend.encodeAddStream) return undefined;
  let normalizing = false;
  const ruleAt = (k: number): MarkRule | undefined => {
    if (k === 0) return rule;
    const r = list[k];
    if (r === undefined && !(k in list)) return undefined;
    i = k;
    normalizing = true;
    const out = normalizeRule(r);
    normalizing = false;
    return out;
  };
  try {
    return backend.encodeAddStream(list.length, ruleAt, context(table));
  } catch (e) {
    throw normalizing ? indexed(e, i) : e;
  }
}

/** A rule's error inside a list names its index, as normalizeRules says it. */
function indexed(e: unknown, i: number): unknown {
  if (!(e instanceof PktmarkError)) return e;
  return new PktmarkError(e.code, `rule ${i}: ${e.message}`, { ...e.toJSON(), field: e.field === undefined ? `[${i}]` : `[${i}].${e.field}`, messageIndex: i });
}

/** The eBPF programs `add` would load for these rules (none for nft/tc): name, place, instruction bytes (map fds 0). */
export function encodePrograms(input: MarkRuleInput | readonly MarkRuleInput[]): { name: string; where: string; insns: Uint8Array }[] {
  const rules = normalizeRules(input);
  if (rules.length === 0) return [];
  return splitByVia(rules).encodePrograms?.(rules) ?? [];
}

/** The equivalent `nft` or `tc` command line. */
export function explain(input: MarkRuleInput, opts: { table?: string; first?: boolean } = {}): string {
  const rule = normalizeRule(input);
  return BACKENDS[rule.via].explain(rule, { table: validateTable(opts.table ?? DEFAULT_TABLE), ...(opts.first ? { first: true } : {}) });
}
