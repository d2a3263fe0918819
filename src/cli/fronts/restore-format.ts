/**
 * The iptables-save format, read (iptables-restore) for the mark family: `*raw` / `*mangle`,
 * `:CHAIN POLICY [p:b]`, `-A`/`-I` rule lines (each parsed by the iptables front), comments,
 * `COMMIT`, CRLF line ends. Everything else is refused with its line number and word; nothing
 * is skipped silently.
 */
import { PktmarkError } from '../../errors.js';
import { normalizeRule } from '../../normalize.js';
import { rememberNormalized } from '../../encode.js';
import type { MarkRule, MarkRuleInput, XtTable } from '../../rule.js';
import { parseIptables } from './iptables-parse.js';
import { quickLine, quickRestoreLine } from './restore-quick.js';
import { userChainProblem } from '../../backends/nft/chains.js';
import type { UserChain } from '../../backends/nft/user-chains.js';

export interface RestorePlan {
  /** the tables the input names (a restore without --noflush replaces pktmark's rules in these) */
  readonly tables: readonly XtTable[];
  /**
   * in file order; `-I` lines go to the head of their chain, as iptables-restore does. Empty when
   * parsed with `inputs: false` (a restore that sends `normalized` has no use for them).
   */
  readonly rules: readonly MarkRuleInput[];
  /** the rules as normalizeRule made them while checking each line (by index of `rules`), so the restore need not do it again */
  readonly normalized: readonly MarkRule[];
  /** with -c: each rule's `[packets:bytes]` (undefined where its line gave none), by index of `normalized` */
  readonly counters: readonly (RuleCounters | undefined)[];
  /** user-defined chains the input declares (`:NAME - [p:b]` or `-N NAME`), by table, in file order */
  readonly chains: readonly UserChain[];
}

export interface RuleCounters { readonly packets: bigint; readonly bytes: bigint }

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

function lineError(n: number, word: string, message: string, code: PktmarkError['code'] = 'UNSUPPORTED'): PktmarkError {
  return new PktmarkError(code, `line ${n}: ${message}`, { field: word, hint: `at word '${word}'` });
}

/**
 * Split a rule line like iptables-restore (add_param_to_argv): whitespace, and "double quotes"
 * with \" inside. The words are pushed onto `out` (a restore puts its `-t TABLE` in front).
 */
export function splitLine(line: string, n: number, out: string[] = []): string[] {
  if (!line.includes('"')) return splitPlain(line, out);
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '\\' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
      continue;
    }
    if (ch === '"') { quoted = true; inWord = true; continue; }
    if (ch === ' ' || ch === '\t') { if (inWord) { out.push(cur); cur = ''; inWord = false; } continue; }
    cur += ch;
    inWord = true;
  }
  if (quoted) throw lineError(n, line.trim().split(/\s+/).pop() ?? '"', 'unterminated quote', 'INVALID_OPTION');
  if (inWord) out.push(cur);
  return out;
}

/** A line without quotes: its runs of non-blanks, sliced (building each word a character at a time was a tenth of a line's parse). */
function splitPlain(line: string, out: string[]): string[] {
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      if (start >= 0) { out.push(line.slice(start, i)); start = -1; }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

/** `[p:b]`: two decimal u64s, as iptables-restore's sscanf("[%llu:%llu]") reads them. */
function parseCounters(word: string, n: number): RuleCounters {
  const m = /^\[(\d{1,20}):(\d{1,20})\]$/.exec(word);
  if (!m || BigInt(m[1]) > 0xffffffffffffffffn || BigInt(m[2]) > 0xffffffffffffffffn) throw lineError(n, word, `bad counters ${word} (want [packets:bytes])`, 'INVALID_OPTION');
  return { packets: BigInt(m[1]), bytes: BigInt(m[2]) };
}

/** `items` in front of the first `count` entries of `list`: unshift for a list made longer than what it holds */
function prepend<T>(list: T[], count: number, items: readonly T[]): void {
  // (copyWithin does not lengthen a list)
  if (list.length < count + items.length) list.length = count + items.length;
  list.copyWithin(items.length, 0, count);
  for (let i = 0; i < items.length; i++) list[i] = items[i];
}

export interface RestoreOptions {
  /** `[p:b]` counter prefixes are allowed (iptables-restore -c) */
  readonly counters?: boolean;
  /** false: the plan's `rules` are left empty, and only their normalized forms made (a third of the objects of a quick line) */
  readonly inputs?: boolean;
  /** false: every line the general way (the property test compares the two) */
  readonly quickLines?: boolean;
}

export function parseRestore(text: string, family: 'ip' | 'ip6', opts: RestoreOptions = {}): RestorePlan {
  const tables: XtTable[] = [];
  // the lists are made once, for a rule on every line that starts with '-', and cut to length at
  // the end: grown by push, each was copied a dozen times on the way to 10,000 (~1.2 MB of garbage
  // a parse for three). (A rule on another line, after blanks, is stored past the end: the list grows.)
  let lines = text.charCodeAt(0) === 45 ? 1 : 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (text.charCodeAt(i + 1) === 45) lines++;
  let count = 0;
  const inputs = opts.inputs !== false;
  const rules = new Array<MarkRuleInput>(inputs ? lines : 0);
  const normalized = new Array<MarkRule>(lines);
  const counters = new Array<RuleCounters | undefined>(lines);
  const heads: { rule: MarkRuleInput; normalized: MarkRule; counters?: RuleCounters }[] = [];
  const chains: UserChain[] = [];
  const declared = (t: XtTable, name: string): boolean => chains.some((c) => c.table === t && c.name === name);
  const declare = (t: XtTable, name: string, n: number, word: string): void => {
    const why = userChainProblem(name);
    if (why) throw lineError(n, word, why, 'INVALID_OPTION');
    if (declared(t, name)) throw lineError(n, word, `chain ${name} is declared twice in *${t}`, 'INVALID_OPTION');
    chains.push({ table: t, name });
  };
  let table: XtTable | undefined;
  let tableLine = 0;
  const chainsWithPolicy = new Map<string, number>();
  const quick = opts.quickLines !== false;
  // the lines are read where they stand in the text (as split(/\r?\n/) cuts them): the common
  // rule line (restore-quick.ts) needs no string of its own, the others are sliced out
  let n = 0;
  let generalRules = 0;
  for (let from = 0; from <= text.length;) {
    let nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    const to = nl < text.length && nl > from && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    n++;
    if (table !== undefined && quick && quickRestoreLine(text, from, to, table, family, inputs)) {
      if (quickLine.insert) heads.unshift({ rule: quickLine.rule, normalized: quickLine.normalized });
      else {
        if (inputs) rules[count] = quickLine.rule;
        normalized[count] = quickLine.normalized;
        counters[count++] = undefined;
      }
    } else readLine(text.slice(from, to), n);
    from = nl + 1;
  }
  if (table) throw lineError(n, `*${table}`, `*${table} (line ${tableLine}) has no COMMIT`, 'INVALID_OPTION');
  // rules of quick lines only are flat: an add of them need not normalize them again (encode.ts)
  rules.length = inputs ? count : 0;
  normalized.length = count;
  counters.length = count;
  if (generalRules === 0 && inputs) rememberNormalized(rules, normalized);
  return { tables, rules, normalized, counters, chains };

  /** One line the general way: every kind of line, every error. */
  function readLine(raw: string, n: number): void {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      if (table) throw lineError(n, line, `table ${line} starts before COMMIT of *${table} (line ${tableLine})`, 'INVALID_OPTION');
      const name = line.slice(1);
      if (name !== 'raw' && name !== 'mangle') throw lineError(n, line, `table ${line}: pktmark restores the mark family only (*raw, *mangle)`);
      table = name;
      tableLine = n;
      if (!tables.includes(name)) tables.push(name);
      chainsWithPolicy.clear();
      return;
    }
    if (!table) throw lineError(n, line.split(/\s+/)[0], 'a line outside a table (*raw or *mangle first)', 'INVALID_OPTION');
    if (line === 'COMMIT') {
      // -I lines of the table go to the head of their chains, each in front of the ones before it
      const h = heads.splice(0);
      if (inputs) prepend(rules, count, h.map((x) => x.rule));
      prepend(normalized, count, h.map((x) => x.normalized));
      prepend(counters, count, h.map((x) => x.counters));
      count += h.length;
      table = undefined;
      return;
    }
    if (line.startsWith(':')) {
      const [chain, policy, count] = line.slice(1).split(/\s+/);
      if (count !== undefined) parseCounters(count, n);
      if (!BUILTIN.has(chain)) {
        // a user-defined chain: policy `-` (it has none; its end returns)
        if (policy !== '-') throw lineError(n, policy ?? chain, `user-defined chain ${chain} takes policy '-', not ${policy ?? 'nothing'}`, 'INVALID_OPTION');
        declare(table, chain, n, chain);
        return;
      }
      if (policy !== 'ACCEPT') throw lineError(n, policy ?? chain, `chain ${chain} has policy ${policy}: pktmark's chains accept (a policy would drop packets)`);
      chainsWithPolicy.set(chain, n);
      return;
    }
    // the line's words after the `-t TABLE` that parseIptables gets in front of them (one array a line, not three)
    const words = splitLine(line, n, ['-t', table]);
    const w = 2;
    let ctr: RuleCounters | undefined;
    if (words[w]?.startsWith('[')) {
      if (!opts.counters) throw lineError(n, words[w], 'a counter prefix needs -c', 'INVALID_OPTION');
      ctr = parseCounters(words[w], n);
      words.splice(w, 1);
    }
    if (words[w] === '-N' || words[w] === '--new-chain') {
      if (words.length !== w + 2) throw lineError(n, words[w + 2] ?? words[w], `${words[w]} takes one chain name`, 'INVALID_OPTION');
      if (BUILTIN.has(words[w + 1])) throw lineError(n, words[w + 1], `${words[w + 1]} is a built-in chain`, 'INVALID_OPTION');
      declare(table, words[w + 1], n, words[w + 1]);
      return;
    }
    if (words[w] !== '-A' && words[w] !== '-I' && words[w] !== '--append' && words[w] !== '--insert') {
      throw lineError(n, words[w] ?? line, `only -A, -I and -N lines belong in a restore file`);
    }
    for (let k = w; k < words.length; k++) {
      if (words[k] === '-t' || words[k].startsWith('--table')) throw lineError(n, '-t', 'the table comes from the *table line', 'INVALID_OPTION');
    }
    try {
      const c = parseIptables(words, family);
      if (c.op !== 'append' && c.op !== 'insert') throw lineError(n, words[2], 'only -A and -I lines belong in a restore file');
      const norm = normalizeRule(c.rule);
      // iptables-restore: a chain, and a jump target, must be known when the line is read
      if (c.chain !== undefined && !declared(table, c.chain)) throw lineError(n, c.chain, `chain ${c.chain} does not exist in *${table} (declare it first: :${c.chain} - [0:0])`, 'NOT_FOUND');
      const j = c.rule.jump;
      if (j !== undefined && j !== 'RETURN' && !declared(table, j)) throw lineError(n, j, `-j ${j}: no chain or target ${j} in *${table} (declare it first: :${j} - [0:0])`, 'NOT_FOUND');
      generalRules++;
      if (c.op === 'insert') {
        if (c.index !== 1) throw lineError(n, String(c.index), 'pktmark restores -I at the head only', 'UNSUPPORTED');
        heads.unshift({ rule: c.rule, normalized: norm, ...(ctr ? { counters: ctr } : {}) });
      } else {
        if (inputs) rules[count] = c.rule;
        normalized[count] = norm;
        counters[count++] = ctr;
      }
    } catch (e) {
      if (!(e instanceof PktmarkError) || e.message.startsWith('line ')) throw e;
      // positions count from the rule's first word, as in the file (the -t TABLE we put in front is not there)
      const msg = e.message.replace(/at position (\d+)/g, (_, p: string) => `at word ${Number(p) - 2}`);
      throw new PktmarkError(e.code, `line ${n}: ${msg}`, { ...(e.field !== undefined ? { field: e.field } : {}), ...(e.hint !== undefined ? { hint: e.hint } : {}) });
    }
  }
}
