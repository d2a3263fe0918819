/**
 * `pktmark tc [-force] -batch FILE|-`: tc's batch mode for the add lines pktmark writes. Lines are
 * read the way iproute2 reads them (utils.c getcmdline/makeargs): `#` starts a comment anywhere,
 * a line ending in `\` goes on on the next one, words split on blanks with '…' or "…" quoting,
 * blank lines are skipped, and an error names `FILE:LINE` (the last physical line of a command,
 * as tc counts). Every line is parsed and checked before anything is sent.
 *
 * Unlike tc, a batch is atomic: `qdisc add` lines run first, then every `filter add` line's
 * filter goes to the kernel in one pipelined exchange (the tc backend's add), and the first
 * refusal undoes all of them. With `-force`, as in tc, the other lines are still tried, every
 * failure is reported with its line, and nothing that went in is undone. Exit codes are tc's:
 * 0 when every line went in, 1 when one did not.
 */
import { readFileSync } from 'node:fs';
import { PktmarkError } from '../../errors.js';
import type { MarkRuleInput } from '../../rule.js';
import { EXIT_OK, EXIT_RULE, UsageError } from '../errors.js';
import type { GlobalOptions } from '../global.js';
import type { Io } from '../io.js';
import type { TcCommand } from './tc.js';

/** One command of a batch file: its words and the line tc would report for it. */
export interface BatchLine { readonly line: number; readonly words: readonly string[] }

/** iproute2's makeargs: blanks split words, a word that starts with ' or " runs to the same quote. */
function makeargs(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
    if (i >= text.length) break;
    const q = text[i];
    if (q === '"' || q === "'") {
      const end = text.indexOf(q, i + 1);
      if (end < 0) throw new PktmarkError('INVALID_OPTION', 'unterminated quoted string', { field: q });
      words.push(text.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !' \t\r\n'.includes(text[j])) j++;
    words.push(text.slice(i, j));
    i = j;
  }
  return words;
}

/** The commands of a batch file; a line that cannot be split is an error at that line. */
export function splitBatch(text: string, name: string): (BatchLine | { readonly line: number; readonly error: PktmarkError })[] {
  const physical = text.split('\n');
  const out: (BatchLine | { line: number; error: PktmarkError })[] = [];
  let acc = '';
  physical.forEach((raw, i) => {
    // getcmdline: the comment goes first, then a trailing backslash joins the next line
    let l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const hash = l.indexOf('#');
    if (hash >= 0) l = l.slice(0, hash);
    if (l.endsWith('\\') && i < physical.length - 1) { acc += `${l.slice(0, -1)} `; return; }
    const cmd = acc + l;
    acc = '';
    try {
      const words = makeargs(cmd);
      if (words.length) out.push({ line: i + 1, words });
    } catch (e) {
      out.push({ line: i + 1, error: atLine(e, `${name}:${i + 1}`) as PktmarkError });
    }
  });
  return out;
}

/** The same error, its message led by `FILE:LINE:` (a batch line's failure exits 1, as in tc). */
export function atLine(e: unknown, where: string): unknown {
  if (!(e instanceof PktmarkError)) return e;
  const details = e.toJSON();
  delete details.code; delete details.message;
  return new PktmarkError(e.code, `${where}: ${e.message}`, { ...(details as object), cause: e });
}

type QdiscCommand = Extract<TcCommand, { op: 'qdisc-add' | 'qdisc-del' }>;
type Planned =
  | { readonly line: number; readonly kind: 'qdisc'; readonly cmd: QdiscCommand }
  | { readonly line: number; readonly kind: 'filter'; readonly rule: MarkRuleInput };

/** Parse and check every line: the commands, and each line's error (with its `FILE:LINE`). */
export async function planBatch(text: string, name: string): Promise<{ planned: Planned[]; errors: { line: number; error: unknown }[] }> {
  const { parseTc } = await import('./tc.js');
  const { normalizeRule } = await import('../../normalize.js');
  const { checkTcRule } = await import('../../backends/tc/rule.js');
  const planned: Planned[] = [];
  const errors: { line: number; error: unknown }[] = [];
  for (const l of splitBatch(text, name)) {
    if ('error' in l) { errors.push(l); continue; }
    const where = `${name}:${l.line}`;
    try {
      if (l.words[0] !== 'qdisc' && l.words[0] !== 'filter') {
        throw new UsageError('UNSUPPORTED', `unsupported word '${l.words[0]}' at position 1: a batch line is a tc command without 'tc' (qdisc add … or filter add …)`, { field: l.words[0] });
      }
      const cmd = parseTc(l.words);
      if (cmd.op === 'qdisc-add') planned.push({ line: l.line, kind: 'qdisc', cmd });
      else if (cmd.op === 'filter-add') {
        checkTcRule(normalizeRule(cmd.rule));
        planned.push({ line: l.line, kind: 'filter', rule: cmd.rule });
      } else {
        throw new UsageError('UNSUPPORTED', `pktmark tc -batch takes add lines (qdisc add, filter add); run ${cmd.op.replace('-', ' ')} on its own`, { field: l.words[1] ?? l.words[0] });
      }
    } catch (e) {
      errors.push({ line: l.line, error: atLine(e, where) });
    }
  }
  return { planned, errors };
}

function readBatch(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new PktmarkError('INVALID_ARGUMENT', `cannot open file ${JSON.stringify(file)} for reading: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: 'file' });
  }
}

/**
 * What the batch would send, without root: the qdisc lines, then each filter as a one-filter add()
 * writes it — on the qdisc the batch adds for its device (then not pktmark's), else on a clsact
 * pktmark would create (one per device). Text: the tc command lines; --hex: every message. (The
 * real add sends a priority's later filters with the handles these get on a new device, 800::801
 * and on, and without the echo: the same filters.)
 */
async function dryRun(qdiscs: readonly QdiscCommand[], inputs: readonly MarkRuleInput[], g: GlobalOptions, io: Io): Promise<void> {
  const { qdisc } = await import('./tc.js');
  const { ifindexResolver } = await import('../apply.js');
  const { hex } = await import('../output.js');
  const { normalizeRule } = await import('../../normalize.js');
  const { explainRule, ownerCookie, ruleToFilter } = await import('../../backends/tc/rule.js');
  const { encodeNewFilter } = await import('../../../codecs/tc/filter.js');
  const { encodeNewIngressQdisc } = await import('../../../codecs/tc/qdisc.js');
  const { AttributeWriter } = await import('../../../codecs/netlink/attributes.js');
  const ifindex = ifindexResolver(g);
  const given = new Map(qdiscs.map((q) => [q.dev, q.kind]));
  const made = new Set<string>();
  const out: string[] = [];
  const capture: Io = { ...io, out: (l) => out.push(l) };
  for (const q of qdiscs) await qdisc(q, g, capture);
  let seq = qdiscs.length;
  for (const input of inputs) {
    const r = normalizeRule(input);
    const dev = r.dev!, kind = given.get(dev);
    if (!g.hex) {
      const lines = explainRule(r, { qdisc: kind ? 'existing' : 'clsact' }).split('\n');
      if (!kind && made.has(dev)) lines.shift();
      made.add(dev);
      out.push(...lines);
      continue;
    }
    if (!kind && !made.has(dev)) {
      const w = new AttributeWriter(64);
      encodeNewIngressQdisc(w, ++seq, ifindex(dev), 'clsact');
      out.push(hex(w.finish()));
    }
    made.add(dev);
    const w = new AttributeWriter(256);
    encodeNewFilter(w, ++seq, ruleToFilter(r, { ifindex: ifindex(dev), qdisc: kind ?? 'clsact', cookie: ownerCookie(!kind, r.direction) }), { echo: true });
    out.push(hex(w.finish()));
  }
  if (g.json) io.out(JSON.stringify({ dryRun: true, [g.hex ? 'messages' : 'commands']: out }));
  else for (const l of out) io.out(l);
}

/** Run a batch (the `tc -batch` / `-force -batch` command). */
export async function runTcBatch(file: string, force: boolean, g: GlobalOptions, io: Io): Promise<number> {
  const name = file;
  const { planned, errors } = await planBatch(readBatch(file), name);
  const { report } = await import('../main.js');
  const failed = (list: { error: unknown }[]): number => { for (const f of list) report(f.error, g, io); return EXIT_RULE; };
  errors.sort((a, b) => a.line - b.line);
  if (errors.length && !force) return failed(errors.slice(0, 1));
  const qdiscs = planned.filter((p): p is Extract<Planned, { kind: 'qdisc' }> => p.kind === 'qdisc');
  const filters = planned.filter((p): p is Extract<Planned, { kind: 'filter' }> => p.kind === 'filter');

  if (g.dryRun) {
    await dryRun(qdiscs.map((q) => q.cmd), filters.map((f) => f.rule), g, io);
    return errors.length ? failed(errors) : EXIT_OK;
  }

  const { withMarker } = await import('../apply.js');
  const { backendContext } = await import('../../marker.js');
  const { addFilters } = await import('../../backends/tc/index.js');
  const { normalizeRule } = await import('../../normalize.js');
  const { qdiscStep } = await import('./tc.js');
  const rules = filters.map((f) => normalizeRule(f.rule));
  const kernelErrors: { line: number; error: unknown }[] = [];
  const records = await withMarker(g, async (m) => {
    const ctx = backendContext(m);
    const undo: (() => Promise<void>)[] = [];
    const undoAll = async (): Promise<void> => { for (const u of undo.reverse()) { try { await u(); } catch { /* best effort: report the refusal */ } } };
    for (const q of qdiscs) {
      try {
        undo.push(await qdiscStep(q.cmd, ctx));
      } catch (e) {
        kernelErrors.push({ line: q.line, error: atLine(e, `${name}:${q.line}`) });
        if (!force) { await undoAll(); return []; }
      }
    }
    if (rules.length === 0) return [];
    const o = await addFilters(rules, ctx, { force });
    for (const f of o.failures) kernelErrors.push({ line: filters[f.index].line, error: atLine(f.error, `${name}:${filters[f.index].line}`) });
    if (o.failures.length && !force) await undoAll();
    return o.records;
  });
  const all = [...errors, ...kernelErrors].sort((a, b) => a.line - b.line);
  if (g.json) {
    io.out(JSON.stringify({
      added: records.flatMap((r, i) => (r ? [{ line: filters[i].line, id: r.id }] : [])),
      failed: all.map((f) => ({ line: f.line, ...(f.error instanceof PktmarkError ? { code: f.error.code, message: f.error.message } : { message: String(f.error) }) })),
    }));
  }
  return all.length ? failed(force ? all : all.slice(0, 1)) : EXIT_OK;
}
