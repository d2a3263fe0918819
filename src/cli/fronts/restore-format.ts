/**
 * The iptables-save format, read (iptables-restore) for the mark family: `*raw` / `*mangle`,
 * `:CHAIN POLICY [p:b]`, `-A`/`-I` rule lines (each parsed by the iptables front), comments,
 * `COMMIT`, CRLF line ends. Everything else is refused with its line number and word; nothing
 * is skipped silently.
 */
import { PktmarkError } from '../../errors.js';
import { normalizeRule } from '../../normalize.js';
import type { MarkRuleInput, XtTable } from '../../rule.js';
import { parseIptables } from './iptables-parse.js';

export interface RestorePlan {
  /** the tables the input names (a restore without --noflush replaces pktmark's rules in these) */
  readonly tables: readonly XtTable[];
  /** in file order; `-I` lines go to the head of their chain, as iptables-restore does */
  readonly rules: readonly MarkRuleInput[];
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

function lineError(n: number, word: string, message: string, code: PktmarkError['code'] = 'UNSUPPORTED'): PktmarkError {
  return new PktmarkError(code, `line ${n}: ${message}`, { field: word, hint: `at word '${word}'` });
}

/** Split a rule line like iptables-restore (add_param_to_argv): whitespace, and "double quotes" with \" inside. */
export function splitLine(line: string, n: number): string[] {
  const out: string[] = [];
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

export function parseRestore(text: string, family: 'ip' | 'ip6', opts: { counters?: boolean } = {}): RestorePlan {
  const tables: XtTable[] = [];
  const rules: MarkRuleInput[] = [];
  const heads: MarkRuleInput[] = [];
  let table: XtTable | undefined;
  let tableLine = 0;
  const chainsWithPolicy = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
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
    if (line === 'COMMIT') { rules.unshift(...heads.splice(0)); table = undefined; return; }
    if (line.startsWith(':')) {
      const [chain, policy] = line.slice(1).split(/\s+/);
      if (!BUILTIN.has(chain)) throw lineError(n, chain, `user-defined chain ${chain}: not supported yet`);
      if (policy !== 'ACCEPT') throw lineError(n, policy ?? chain, `chain ${chain} has policy ${policy}: pktmark's chains accept (a policy would drop packets)`);
      chainsWithPolicy.set(chain, n);
      return;
    }
    let words = splitLine(line, n);
    if (words[0]?.startsWith('[')) {
      if (!opts.counters) throw lineError(n, words[0], 'a counter prefix needs -c', 'INVALID_OPTION');
      throw lineError(n, words[0], 'restoring counters (-c) is not supported yet');
    }
    if (words[0] !== '-A' && words[0] !== '-I' && words[0] !== '--append' && words[0] !== '--insert') {
      throw lineError(n, words[0] ?? line, `only -A and -I lines belong in a restore file`);
    }
    if (words.includes('-t') || words.some((w) => w.startsWith('--table'))) throw lineError(n, '-t', 'the table comes from the *table line', 'INVALID_OPTION');
    words = ['-t', table, ...words];
    try {
      const c = parseIptables(words, family);
      if (c.op !== 'append' && c.op !== 'insert') throw lineError(n, words[2], 'only -A and -I lines belong in a restore file');
      normalizeRule(c.rule);
      if (c.op === 'insert') {
        if (c.index !== 1) throw lineError(n, String(c.index), 'pktmark restores -I at the head only', 'UNSUPPORTED');
        heads.unshift(c.rule);
      } else rules.push(c.rule);
    } catch (e) {
      if (!(e instanceof PktmarkError) || e.message.startsWith('line ')) throw e;
      // positions count from the rule's first word, as in the file (the -t TABLE we put in front is not there)
      const msg = e.message.replace(/at position (\d+)/g, (_, p: string) => `at word ${Number(p) - 2}`);
      throw new PktmarkError(e.code, `line ${n}: ${msg}`, { ...(e.field !== undefined ? { field: e.field } : {}), ...(e.hint !== undefined ? { hint: e.hint } : {}) });
    }
  });
  if (table) throw lineError(lines.length, `*${table}`, `*${table} (line ${tableLine}) has no COMMIT`, 'INVALID_OPTION');
  return { tables, rules };
}
