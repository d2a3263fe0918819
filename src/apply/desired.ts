/**
 * The desired state: a `rules:` list of the same fields as `add`, each optionally with a `name`,
 * from a YAML or JSON file (JSON is read by the YAML parser too, so both get line numbers) or
 * from a library caller's array. Every rule is validated before anything is read from or sent
 * to the kernel: one bad rule and nothing is applied; the error names the rule (index, name,
 * file line) and the field.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { PktmarkError } from '../errors.js';
import { normalizeRule } from '../normalize.js';
import { autoMask } from '../conflicts/auto.js';
import type { MarkRule, MarkRuleInput } from '../rule.js';
import { parseFast } from './yaml-fast.js';

/** One rule of a desired-state file: `add`'s fields and an optional name. */
export interface DesiredRuleInput extends MarkRuleInput {
  /** identity across applies: a named rule whose content changes is replaced in place */
  readonly name?: string;
}

/** What `Marker.apply` takes: an object with `rules`, or the array itself. */
export interface DesiredStateInput {
  readonly rules: readonly DesiredRuleInput[];
}

export interface DesiredRule {
  readonly rule: MarkRule;
  readonly name?: string;
  /** index in the file's `rules:` list */
  readonly index: number;
  /** 1-based line of the rule in its file, when it came from one */
  readonly line?: number;
  /**
   * `mark: auto[/MASK]`: `rule.mark` is a stand-in until apply picks a free bit within this mask
   * (src/conflicts/apply-auto.ts); later applies keep the pick the named rule already has
   */
  readonly autoMask?: number;
}

export interface DesiredState {
  readonly rules: readonly DesiredRule[];
  /** the file it was read from, for messages */
  readonly source?: string;
}

/** Names are stored in the rule's userdata (one u8-length TLV with its NUL): at most 128 bytes here, printable. */
export const MAX_NAME_BYTES = 128;
const NAME_RE = /^[\p{L}\p{N}_.:/@+-][\p{L}\p{N}_.:/@+ -]*$/u;

/** `rule 3 (name "web", line 12)`: how messages name a rule of the file. */
export function ruleLabel(r: { index: number; name?: string; line?: number }, source?: string): string {
  const parts: string[] = [];
  if (r.name !== undefined) parts.push(`name ${JSON.stringify(r.name)}`);
  if (r.line !== undefined) parts.push(source ? `${source}:${r.line}` : `line ${r.line}`);
  return `rule ${r.index}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** How messages name rule `index` (made only for a message). */
const labelAt = (index: number, line: number | undefined, name?: string): { index: number; line?: number; name?: string } =>
  ({ index, ...(line !== undefined ? { line } : {}), ...(name !== undefined ? { name } : {}) });

interface Located {
  readonly input: unknown;
  readonly line?: number;
  readonly fieldLine?: (field: string) => number | undefined;
  /** a one-line flow map's text, and what the last parse made of it (then `input` is not read) */
  readonly flow?: string;
  readonly known?: KnownRule;
}

/** what a line read before gave: all a rule of it needs besides its index and line */
type KnownRule = Pick<DesiredRule, 'rule' | 'name' | 'autoMask'>;

/**
 * The rules of the last parse by the text of their one-line flow maps (`- {src: …, mark: …}`),
 * for a caller that parses the same file again and again (the agent): a line of the same text is
 * the same rule, so a 1% change validates and normalizes 1% of the lines, and the other rules
 * are the same objects as before (whose content keys diff has already computed).
 */
export class DesiredLines {
  /** what a line gave, and the parse that last saw it (entries no parse saw are dropped after it) */
  private readonly byFlow = new Map<string, { readonly rule: MarkRule; readonly name?: string; readonly autoMask?: number; seen: number }>();
  private parse = 0;
  /** for parseFast: a line read before, which this parse then uses */
  lookup(flow: string): KnownRule | undefined {
    const e = this.byFlow.get(flow);
    if (e !== undefined) e.seen = this.parse + 1;
    return e;
  }
  /** after a parse that succeeded: its lines, and only those, are known */
  update(rules: readonly DesiredRule[], items: readonly Located[]): void {
    const now = ++this.parse;
    let fresh = false;
    items.forEach((it, i) => {
      if (it.flow === undefined || it.known) return;
      const d = rules[i];
      this.byFlow.set(it.flow, { rule: d.rule, ...(d.name !== undefined ? { name: d.name } : {}), ...(d.autoMask !== undefined ? { autoMask: d.autoMask } : {}), seen: now });
      fresh = true;
    });
    let known = 0;
    for (const it of items) if (it.known) known++;
    // sweep out the lines this parse did not have; not needed when it had every known line and no new one
    if (fresh || known !== this.byFlow.size) for (const [k, e] of this.byFlow) if (e.seen !== now) this.byFlow.delete(k);
  }
}

function checkName(name: unknown, index: number, line: number | undefined, source?: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
    throw new PktmarkError('INVALID_ARGUMENT', `${ruleLabel(labelAt(index, line), source)}: name ${JSON.stringify(name)} must be 1-${MAX_NAME_BYTES} bytes of letters, digits, spaces and _ . : / @ + - (not starting with a space)`,
      { field: `rules[${index}].name`, messageIndex: index });
  }
  return name;
}

/** DesiredStates this module made: already validated, so apply takes them as they are. */
const made = new WeakSet<DesiredState>();
export const isDesiredState = (d: unknown): d is DesiredState => typeof d === 'object' && d !== null && made.has(d as DesiredState);

/** The rules of an already validated state that `keep` selects, still taken as validated. */
export function narrowDesired(d: DesiredState, keep: (r: DesiredRule) => boolean): DesiredState {
  const out: DesiredState = { rules: d.rules.filter(keep), ...(d.source !== undefined ? { source: d.source } : {}) };
  made.add(out);
  return out;
}

/** Validate located inputs into a DesiredState (the common path of files and arrays). */
function build(items: readonly Located[], source?: string, lines?: DesiredLines): DesiredState {
  const out = buildUnmarked(items, source);
  made.add(out);
  lines?.update(out.rules, items);
  return out;
}

/** A DesiredRule without its absent fields (built without spreads: 10,000 of them per apply). */
function desiredRule(rule: MarkRule, index: number, name: string | undefined, line: number | undefined, autoMask: number | undefined): DesiredRule {
  const d: { rule: MarkRule; index: number; name?: string; line?: number; autoMask?: number } = { rule, index };
  if (name !== undefined) d.name = name;
  if (line !== undefined) d.line = line;
  if (autoMask !== undefined) d.autoMask = autoMask;
  return d;
}

/** Names are unique within a file: `name` is rule `at.index`'s, or the error names the rule that had it first. */
function claimName(seen: Map<string, number>, name: string, at: { index: number; name?: string; line?: number }, source?: string): void {
  const prev = seen.get(name);
  if (prev !== undefined) {
    throw new PktmarkError('INVALID_ARGUMENT', `${ruleLabel(at, source)}: name ${JSON.stringify(name)} is already used by rule ${prev}; names are unique within a file`,
      { field: `rules[${at.index}].name`, messageIndex: at.index });
  }
  seen.set(name, at.index);
}

/** A plain object without a name key: its fields are the rule's as they are (no copy without `name`, 10,000 of them per apply). */
const namelessPlain = (o: object): boolean => !Object.hasOwn(o, 'name') && Object.getPrototypeOf(o) === Object.prototype;

function buildUnmarked(items: readonly Located[], source?: string): DesiredState {
  const seen = new Map<string, number>();
  const rules: DesiredRule[] = [];
  for (let index = 0; index < items.length; index++) {
    const it = items[index];
    const known = it.known;
    if (known) {
      // validated when it was read; only the file-wide check (unique names) is left
      if (known.name !== undefined) claimName(seen, known.name, labelAt(index, it.line, known.name), source);
      rules.push(desiredRule(known.rule, index, known.name, it.line, known.autoMask));
    } else {
      rules.push(fromInput(it.input, index, it.line, it.fieldLine, seen, source));
    }
  }
  return { rules, ...(source !== undefined ? { source } : {}) };
}

/** buildUnmarked for a caller's list: no line numbers, nothing known, no item object per rule. */
function buildList(list: readonly unknown[]): DesiredState {
  const seen = new Map<string, number>();
  const rules: DesiredRule[] = [];
  for (let index = 0; index < list.length; index++) rules.push(fromInput(list[index], index, undefined, undefined, seen, undefined));
  return { rules };
}

/** One rule of the file or list, validated; `fieldLine` maps a field to its line for messages. */
function fromInput(input: unknown, index: number, line: number | undefined, fieldLine: Located['fieldLine'], seen: Map<string, number>, source: string | undefined): DesiredRule {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new PktmarkError('INVALID_ARGUMENT', `${ruleLabel(labelAt(index, line), source)}: a rule must be a mapping of fields (src, mark, …)`, { field: `rules[${index}]`, messageIndex: index });
  }
  let fields: Record<string, unknown>;
  let rawName: unknown;
  if (namelessPlain(input)) fields = input as Record<string, unknown>;
  else ({ name: rawName, ...fields } = input as Record<string, unknown>);
  const name = rawName === undefined ? undefined : checkName(rawName, index, line, source);
  if (name !== undefined) claimName(seen, name, labelAt(index, line, name), source);
  let rule: MarkRule;
  let auto: number | undefined;
  try {
    auto = autoMask(fields.mark);
    if (auto !== undefined && name === undefined) {
      throw new PktmarkError('INVALID_MARK', 'an auto mark needs the rule to have a name, so that its pick is kept across applies', { field: 'mark', hint: 'add name: … to the rule' });
    }
    rule = normalizeRule((auto === undefined ? fields : { ...fields, mark: '0x1/0x1' }) as unknown as MarkRuleInput);
    // apply places rules in the hook chains only: a user chain's rules would be left out of its batch
    if (rule.chain !== undefined || rule.jump !== undefined) {
      throw new PktmarkError('UNSUPPORTED', `${rule.chain !== undefined ? 'chain' : 'jump'}: apply manages the hook chains only; user-defined chains go through add or iptables-restore`, { field: rule.chain !== undefined ? 'chain' : 'jump' });
    }
  } catch (e) {
    if (!(e instanceof PktmarkError)) throw e;
    const fl = e.field !== undefined ? fieldLine?.(e.field) : undefined;
    const where = labelAt(index, fl !== undefined && fl !== line ? fl : line, name);
    throw new PktmarkError(e.code, `${ruleLabel(where, source)}: ${e.message}`, {
      ...e.toJSON(), field: `rules[${index}]${e.field !== undefined ? `.${e.field}` : ''}`, messageIndex: index,
    });
  }
  return desiredRule(rule, index, name, line, auto);
}

/** A library caller's desired list (no lines). */
export function desiredFromInput(input: DesiredStateInput | readonly DesiredRuleInput[]): DesiredState {
  const list = Array.isArray(input) ? input : (input as DesiredStateInput | null)?.rules;
  if (!Array.isArray(list)) throw new PktmarkError('INVALID_ARGUMENT', 'desired state must be an array of rules or an object with a rules array', { field: 'rules' });
  const out = buildList(list);
  made.add(out);
  return out;
}

const TOP_LEVEL = new Set(['rules']);

/**
 * Parse a desired-state file's text (YAML or JSON). `source` (the file name) prefixes line numbers
 * in messages. `lines`: the rules of the last parse by line (see DesiredLines), updated by this one.
 */
export function parseDesired(text: string, source?: string, lines?: DesiredLines): DesiredState {
  const fast = parseFast<KnownRule>(text, lines ? (flow) => lines.lookup(flow) : undefined);
  if (fast) {
    // a known line's item is already all a Located needs
    return build(fast.map((f): Located => (f.known ? f : { input: f.input, line: f.line, fieldLine: (field: string) => f.fieldLines.get(field.split(/[.[]/, 1)[0]), ...(f.flow !== undefined ? { flow: f.flow } : {}) })), source, lines);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const lineOf = (n: { range?: [number, number, number] | null } | null | undefined): number | undefined => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  const at = (line: number | undefined): string => (source ? `${source}:${line ?? 1}` : `line ${line ?? 1}`);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = lc.linePos(e.pos[0]).line;
    throw new PktmarkError('INVALID_ARGUMENT', `${at(line)}: ${e.message.split('\n')[0]}`, { field: 'file' });
  }
  const root = doc.contents;
  if (root === null) return build([], source, lines); // an empty file: nothing desired
  if (!isMap(root)) throw new PktmarkError('INVALID_ARGUMENT', `${at(lineOf(root))}: the file must be a mapping with a rules: list`, { field: 'rules' });
  for (const p of (root as YAMLMap).items) {
    const k = (p.key as { value?: unknown } | null)?.value;
    if (typeof k !== 'string' || !TOP_LEVEL.has(k)) {
      throw new PktmarkError('INVALID_ARGUMENT', `${at(lineOf(p.key as YamlNode))}: unknown top-level key ${JSON.stringify(k)} (the file holds rules:)`, { field: String(k) });
    }
  }
  const seq = root.get('rules', true) as YamlNode | undefined;
  if (seq === undefined || (seq as { value?: unknown }).value === null) return build([], source, lines);
  if (!isSeq(seq)) throw new PktmarkError('INVALID_ARGUMENT', `${at(lineOf(seq))}: rules: must be a list`, { field: 'rules' });
  const items = seq.items.map((node): Located => {
    const n = node as YamlNode;
    const line = lineOf(n);
    const fieldLine = (field: string): number | undefined => {
      if (!isMap(n)) return undefined;
      const top = field.split(/[.[]/, 1)[0];
      const pair = n.items.find((p) => (p.key as { value?: unknown } | null)?.value === top);
      return pair ? lineOf(pair.key as YamlNode) : undefined;
    };
    return { input: n === null || n === undefined ? null : (n as { toJSON(): unknown }).toJSON(), ...(line !== undefined ? { line } : {}), fieldLine };
  });
  return build(items, source, lines);
}
