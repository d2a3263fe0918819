/**
 * `pktmark tc …`: the tc lines that mark with u32 + skbedit, verbatim, in the style of tc's own
 * parsers (tc/f_u32.c parse_ip/parse_ip6, tc/m_skbedit.c): each selector word and the action
 * have a small parser that consumes its words. Filters go through the tc backend (u32 +
 * skbedit on clsact, or on an existing ingress qdisc); `tc qdisc add|del` acts on the device.
 */
import type { MarkRuleInput } from '../../rule.js';
import type { BackendContext, RuleRecord } from '../../backends/backend.js';
import { PktmarkError } from '../../errors.js';
import { addRules, ifindexResolver, openTransport, withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { checkGlobal, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { hex, rulesJson } from '../output.js';
import { Words } from '../words.js';
import { formatU32Handle, parseU32Handle } from '../../../codecs/tc/classifiers/u32.js';

type Direction = 'ingress' | 'egress';

export type TcCommand =
  | { readonly op: 'qdisc-add' | 'qdisc-del'; readonly dev: string; readonly kind: 'ingress' | 'clsact' }
  | { readonly op: 'filter-add'; readonly rule: MarkRuleInput }
  | { readonly op: 'filter-del' | 'filter-show'; readonly dev: string; readonly direction?: Direction; readonly prio?: number; readonly family?: 'ip' | 'ip6' | 'all'; readonly handle?: number }
  | { readonly op: 'batch'; readonly file: string; readonly force: boolean }
  | { readonly op: 'help' };

interface TcFilterSpec {
  dev?: string;
  direction?: Direction;
  family?: 'ip' | 'ip6' | 'all';
  prio?: number;
  handle?: number;
  src?: string;
  dst?: string;
  proto?: string;
  sport?: string;
  dport?: string;
  mark?: string;
  rate?: string;
  burst?: string;
}

const PARENTS: Readonly<Record<string, Direction>> = {
  'ffff:': 'ingress', 'ffff:0': 'ingress', 'ffff:fff2': 'ingress', 'ffff:fff1': 'ingress', 'ffff:fff3': 'egress',
  ingress: 'ingress', egress: 'egress',
};
const PROTOCOLS: Readonly<Record<string, 'ip' | 'ip6' | 'all'>> = { ip: 'ip', ipv6: 'ip6', all: 'all', '0x0800': 'ip', '0x86dd': 'ip6', '0x0003': 'all' };

const usage = (message: string, field: string, hint?: string): UsageError =>
  new UsageError('INVALID_OPTION', message, { field, ...(hint ? { hint } : {}) });

/** f_u32.c: `match ip|ip6 src|dst ADDR[/LEN]`, `protocol N 0xff`, `sport|dport N 0xffff` */
function parseU32Match(w: Words, f: TcFilterSpec): void {
  const fam = w.value('match', 'ip or ip6');
  if (fam === 'u32') {
    // `match u32 0 0`: every packet (what pktmark itself writes for a rule without selectors)
    const v = w.value('match u32', '0'); const m = w.value('match u32', '0');
    if (Number(v) !== 0 || Number(m) !== 0) throw w.unsupported(Number(v) !== 0 ? v : m, w.lastPos - (Number(v) !== 0 ? 1 : 0), 'only match u32 0 0 (every packet) is supported');
    return;
  }
  if (fam !== 'ip' && fam !== 'ip6') throw w.unsupported(fam, w.lastPos, 'u32 selectors supported: match ip …, match ip6 …');
  const famPos = w.lastPos;
  const family = fam === 'ip' ? 'ip' : 'ip6';
  if (f.family !== undefined && f.family !== 'all' && f.family !== family) {
    throw new UsageError('FAMILY_MISMATCH', `'match ${fam}' at position ${famPos} does not fit protocol ${f.family === 'ip' ? 'ip' : 'ipv6'}`, { field: fam });
  }
  const what = w.value(`match ${fam}`, 'src, dst, protocol, sport or dport');
  const once = (k: keyof TcFilterSpec): void => {
    if (f[k] !== undefined) throw usage(`'${what}' at position ${w.lastPos}: ${k} is already matched`, what);
  };
  const withMask = (mask: string): string => {
    const v = w.value(what, 'a value');
    const m = w.value(what, `the mask ${mask}`);
    if (Number(m) !== Number(mask)) throw w.unsupported(m, w.lastPos, `pktmark matches whole fields: the mask must be ${mask}`);
    return v;
  };
  switch (what) {
    case 'src': once('src'); f.src = w.value(what, 'ADDR[/LEN]'); break;
    case 'dst': once('dst'); f.dst = w.value(what, 'ADDR[/LEN]'); break;
    case 'protocol': once('proto'); f.proto = withMask('0xff'); break;
    case 'sport': once('sport'); f.sport = withMask('0xffff'); break;
    case 'dport': once('dport'); f.dport = withMask('0xffff'); break;
    default: throw w.unsupported(what, w.lastPos, 'supported: src, dst, protocol, sport, dport');
  }
  if (f.family === undefined || f.family === 'all') f.family = family;
}

/** m_skbedit.c: `skbedit mark V[/M]` (then optionally the control word `pipe`) */
function parseSkbedit(w: Words, f: TcFilterSpec): void {
  const word = w.value('skbedit', 'mark V[/M]');
  if (word !== 'mark') throw w.unsupported(word, w.lastPos, 'pktmark supports skbedit mark only');
  f.mark = w.value('mark', 'V[/M]');
  w.accept('pipe');
}

/**
 * m_police.c, the one form pktmark writes for a rate: `police pkts_rate N pkts_burst B
 * conform-exceed pass/pipe` — within the rate go on to the skbedit (mark), above it pass unmarked.
 */
function parsePolice(w: Words, f: TcFilterSpec): void {
  if (f.rate !== undefined) throw usage(`police at position ${w.lastPos}: the police action is already given`, 'police');
  const expect = (word: string): void => { const v = w.value('police', word); if (v !== word) throw w.unsupported(v, w.lastPos, `pktmark supports police pkts_rate N pkts_burst B conform-exceed pass/pipe`); };
  expect('pkts_rate');
  const rate = w.value('pkts_rate', 'packets per second');
  expect('pkts_burst');
  const burst = w.value('pkts_burst', 'packets');
  expect('conform-exceed');
  expect('pass/pipe');
  f.rate = `${rate}/second`;
  f.burst = burst;
}

function parseFilter(w: Words, verb: string, verbPos: number): TcCommand {
  const f: TcFilterSpec = {};
  let u32 = false;
  let devPos = 0;
  while (!w.done) {
    const word = w.take();
    switch (word) {
      case 'dev':
        if (f.dev !== undefined) throw usage(`dev at position ${w.lastPos} is given twice`, 'dev');
        f.dev = w.value('dev', 'an interface'); devPos = w.lastPos; continue;
      case 'parent': {
        const p = w.value('parent', 'ffff:, ffff:fff2 or ffff:fff3').toLowerCase();
        const d = PARENTS[p];
        if (!d) throw w.unsupported(p, w.lastPos, 'pktmark filters sit on the ingress/clsact qdisc: parent ffff:, ingress or egress');
        f.direction = d; continue;
      }
      case 'ingress': case 'egress': f.direction = word; continue;
      case 'protocol': {
        const p = w.value('protocol', 'ip, ipv6 or all').toLowerCase();
        if (!PROTOCOLS[p]) throw w.unsupported(p, w.lastPos, 'supported protocols: ip, ipv6, all');
        f.family = PROTOCOLS[p]; continue;
      }
      case 'prio': case 'pref': case 'priority': {
        const v = w.value(word, 'a number 1-65535');
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 0xffff) throw new UsageError('INVALID_OPTION', `prio ${JSON.stringify(v)} at position ${w.lastPos} is not 1-65535`, { field: 'prio' });
        f.prio = Number(v); continue;
      }
      case 'handle': {
        // `filter del … prio N handle 800::800 u32`: one u32 node, as tc deletes it
        if (verb === 'add') throw w.unsupported(word, w.lastPos, 'the kernel picks the u32 handle of a new filter (see filter show)');
        const h = w.value('handle', 'a u32 handle, e.g. 800::800');
        const n = parseU32Handle(h.toLowerCase());
        if (n === undefined || (n & 0xfff) === 0) throw w.unsupported(h, w.lastPos, 'a u32 node handle is HT:BKT:NODE, e.g. 800::800');
        f.handle = n; continue;
      }
      case 'u32':
        if (verb !== 'add') { if (verb === 'del') continue; throw w.unsupported(); }
        u32 = true; continue;
      case 'match':
        if (!u32) throw w.unsupported(word, w.lastPos, "selectors follow the classifier: … u32 match …");
        parseU32Match(w, f); continue;
      case 'action': {
        if (!u32) throw w.unsupported(word, w.lastPos, "actions follow the classifier: … u32 match … action skbedit mark V");
        const kind = w.value('action', 'skbedit');
        if (kind === 'police' && f.mark === undefined) { parsePolice(w, f); continue; }
        if (kind !== 'skbedit') throw w.unsupported(kind, w.lastPos, 'pktmark supports action skbedit mark V[/M] (after an optional police pkts_rate N pkts_burst B conform-exceed pass/pipe)');
        if (f.mark !== undefined) throw usage(`action at position ${w.lastPos - 1}: the skbedit action is already given`, 'action');
        parseSkbedit(w, f); continue;
      }
      default:
        throw w.unsupported(word, w.lastPos);
    }
  }
  if (f.dev === undefined) throw usage(`filter ${verb} needs dev IF`, 'dev');
  if (verb === 'show' || verb === 'del') {
    if (verb === 'del' && f.direction === undefined) throw usage('filter del needs parent ffff: (or ingress/egress)', 'parent');
    // the kernel's rule (tc_del_tfilter): a handle names a node within one priority
    if (f.handle !== undefined && f.prio === undefined) throw usage('filter del with a handle needs its prio (the kernel cannot find a handle without one)', 'handle');
    return { op: verb === 'show' ? 'filter-show' : 'filter-del', dev: f.dev, ...(f.direction ? { direction: f.direction } : {}), ...(f.prio ? { prio: f.prio } : {}), ...(f.family ? { family: f.family } : {}), ...(f.handle !== undefined ? { handle: f.handle } : {}) };
  }
  void devPos; void verbPos;
  if (f.direction === undefined) throw usage('filter add needs parent ffff: (or ingress/egress)', 'parent', 'the cheat sheet writes: parent ffff:');
  if (!u32) throw usage('filter add needs the u32 classifier: … u32 match … action skbedit mark V', 'u32');
  if (f.mark === undefined) throw usage('filter add needs action skbedit mark V[/M]', 'action');
  const rule: Record<string, unknown> = { via: 'tc', dev: f.dev, direction: f.direction, mark: f.mark };
  if (f.family && f.family !== 'all') rule.family = f.family;
  for (const k of ['prio', 'src', 'dst', 'proto', 'sport', 'dport', 'rate', 'burst'] as const) if (f[k] !== undefined) rule[k] = f[k];
  return { op: 'filter-add', rule: rule as unknown as MarkRuleInput };
}

/** Parse the words after `tc`. Throws UsageError (exit 2) naming the word and its position. */
export function parseTc(words: readonly string[], g?: GlobalOptions): TcCommand {
  const w = new Words(words, 1);
  // tc's own global options: -n NETNS (-netns), -s (stats: counters are always read), -j (json),
  // -force and -batch FILE (tc.c matches() takes any prefix: -b, -ba, …, -f, -fo, …)
  let batch: string | undefined, force = false;
  for (;;) {
    const o = w.peek();
    if (o !== undefined && /^-b(a(t(ch?)?)?)?$/.test(o)) { w.take(); batch = w.value(o, 'a file (or - for standard input)'); continue; }
    if (o !== undefined && /^-f(o(r(ce?)?)?)?$/.test(o)) { w.take(); force = true; continue; }
    if (o === '-n' || o === '-netns' || o === '--netns') { w.take(); const ns = w.value(o, 'a namespace'); if (g) g.netns = ns; continue; }
    if (o === '-s' || o === '-stats' || o === '-d' || o === '-p' || o === '-pretty') { w.take(); continue; }
    if (o === '-j' || o === '-json') { w.take(); if (g) g.json = true; continue; }
    break;
  }
  if (batch !== undefined) {
    if (!w.done) throw w.unsupported(w.take(), w.lastPos, '-batch FILE takes its commands from the file');
    return { op: 'batch', file: batch, force };
  }
  if (force) throw usage('-force goes with -batch FILE', '-force');
  if (w.done) throw usage('tc needs an object: qdisc or filter', 'object', 'see pktmark tc --help');
  const object = w.take();
  if (object === 'help' || object === '-h' || object === '--help') return { op: 'help' };
  if (object !== 'qdisc' && object !== 'filter') throw w.unsupported(object, w.lastPos, 'pktmark tc supports qdisc and filter');
  const verbRaw = w.value(object, 'add, del or show');
  const verb = verbRaw === 'delete' ? 'del' : verbRaw === 'list' || verbRaw === 'ls' ? 'show' : verbRaw;
  if (object === 'qdisc') {
    if (verb !== 'add' && verb !== 'del') throw w.unsupported(verbRaw, w.lastPos, 'pktmark tc qdisc supports add and del');
    let dev: string | undefined;
    let kind: 'ingress' | 'clsact' | undefined;
    while (!w.done) {
      const word = w.take();
      if (word === 'dev') { dev = w.value('dev', 'an interface'); continue; }
      if (word === 'handle') { const h = w.value('handle', 'ffff:'); if (h !== 'ffff:' && h !== 'ffff:0') throw w.unsupported(h, w.lastPos, 'ingress and clsact have handle ffff:'); continue; }
      if (word === 'parent') { const p = w.value('parent', 'ffff:fff1'); if (p !== 'ffff:fff1') throw w.unsupported(p, w.lastPos); continue; }
      if ((word === 'ingress' || word === 'clsact') && kind === undefined) { kind = word; continue; }
      throw w.unsupported(word, w.lastPos, 'pktmark tc qdisc handles the ingress and clsact qdiscs');
    }
    if (dev === undefined) throw usage(`qdisc ${verb} needs dev IF`, 'dev');
    if (kind === undefined) throw usage(`qdisc ${verb} needs ingress or clsact`, 'kind');
    return { op: verb === 'add' ? 'qdisc-add' : 'qdisc-del', dev, kind };
  }
  if (verb !== 'add' && verb !== 'del' && verb !== 'show') throw w.unsupported(verbRaw, w.lastPos, 'pktmark tc filter supports add, del and show');
  return parseFilter(w, verb, w.lastPos);
}

export async function qdisc(cmd: Extract<TcCommand, { op: 'qdisc-add' | 'qdisc-del' }>, g: GlobalOptions, io: Io): Promise<void> {
  const { encodeDelIngressQdisc, encodeNewIngressQdisc } = await import('../../../codecs/tc/qdisc.js');
  const { parseIfName } = await import('../../rule.js');
  parseIfName(cmd.dev, 'dev', false);
  const encode = cmd.op === 'qdisc-add' ? encodeNewIngressQdisc : encodeDelIngressQdisc;
  if (g.dryRun) {
    if (!g.hex) { io.out(`tc qdisc ${cmd.op === 'qdisc-add' ? 'add' : 'del'} dev ${cmd.dev} ${cmd.kind}`); return; }
    const { AttributeWriter } = await import('../../../codecs/netlink/attributes.js');
    const w = new AttributeWriter(64);
    encode(w, 1, ifindexResolver(g)(cmd.dev), cmd.kind);
    io.out(hex(w.finish()));
    return;
  }
  const { NETLINK_ROUTE } = await import('../../transport/transport.js');
  const { tcKernel } = await import('../../backends/tc/index.js');
  const { execute } = await import('../../transport/execute.js');
  const t = await openTransport(g, NETLINK_ROUTE);
  try {
    const ifindex = await tcKernel.ifindexOf(t, cmd.dev);
    await execute(t, `${cmd.op === 'qdisc-add' ? 'add' : 'delete'} ${cmd.kind} qdisc on ${cmd.dev}`, (w, seq) => encode(w, seq, ifindex, cmd.kind));
  } finally {
    t.close();
  }
}

/** A batch's `qdisc add` line on the Marker's transport; returns the step that removes it again. */
export async function qdiscStep(cmd: Extract<TcCommand, { op: 'qdisc-add' | 'qdisc-del' }>, ctx: BackendContext): Promise<() => Promise<void>> {
  const { encodeDelIngressQdisc, encodeNewIngressQdisc } = await import('../../../codecs/tc/qdisc.js');
  const { NETLINK_ROUTE } = await import('../../transport/transport.js');
  const { tcKernel } = await import('../../backends/tc/index.js');
  const { execute } = await import('../../transport/execute.js');
  const t = await ctx.transport(NETLINK_ROUTE);
  const ifindex = await tcKernel.ifindexOf(t, cmd.dev);
  await execute(t, `add ${cmd.kind} qdisc on ${cmd.dev}`, (w, seq) => encodeNewIngressQdisc(w, seq, ifindex, cmd.kind));
  return async () => { await execute(t, `delete ${cmd.kind} qdisc on ${cmd.dev}`, (w, seq) => encodeDelIngressQdisc(w, seq, ifindex, cmd.kind)); };
}

const familyOf = (r: RuleRecord): 'ip' | 'ip6' | undefined => r.rule?.family;

function selected(records: readonly RuleRecord[], c: { dev: string; direction?: Direction; prio?: number; family?: 'ip' | 'ip6' | 'all'; handle?: number }): RuleRecord[] {
  return records.filter((r) => {
    const [, dev, direction, prio, ...handle] = r.id.split(':');
    if (c.handle !== undefined && parseU32Handle(handle.join(':')) !== c.handle) return false;
    if (r.via !== 'tc' || dev !== c.dev) return false;
    if (c.direction && direction !== c.direction) return false;
    if (c.prio !== undefined && Number(prio) !== c.prio) return false;
    if (c.family && c.family !== 'all' && familyOf(r) !== undefined && familyOf(r) !== c.family) return false;
    return true;
  });
}

export async function runTc(cmd: TcCommand, g: GlobalOptions, io: Io): Promise<number> {
  if (cmd.op === 'help') { io.out(helpText('tc')); return EXIT_OK; }
  if (cmd.op === 'batch') return (await import('./tc-batch.js')).runTcBatch(cmd.file, cmd.force, g, io);
  if (g.dryRun && cmd.op !== 'filter-add' && cmd.op !== 'qdisc-add' && cmd.op !== 'qdisc-del') {
    throw new UsageError('UNSUPPORTED', `--dry-run applies to tc filter add and tc qdisc add|del; filter ${cmd.op === 'filter-del' ? 'del' : 'show'} depends on the kernel's current filters`, { field: '--dry-run' });
  }
  switch (cmd.op) {
    case 'qdisc-add': case 'qdisc-del': await qdisc(cmd, g, io); return EXIT_OK;
    case 'filter-add': await addRules([cmd.rule], g, io, { print: g.json || g.dryRun }); return EXIT_OK;
    case 'filter-show': {
      const records = selected(await withMarker(g, (m) => m.list({ via: 'tc' })), cmd);
      if (g.json) io.out(JSON.stringify(rulesJson(records)));
      else for (const r of records) io.out(`${r.id}  packets ${r.packets} bytes ${r.bytes}\n  ${r.text.split('\n').at(-1)}`);
      return EXIT_OK;
    }
    case 'filter-del':
      await withMarker(g, async (m) => {
        const victims = selected(await m.list({ via: 'tc' }), cmd);
        if (victims.length === 0 && cmd.prio !== undefined) {
          const what = cmd.handle !== undefined ? `prio ${cmd.prio} handle ${formatU32Handle(cmd.handle)}` : `prio ${cmd.prio}`;
          throw new PktmarkError('NOT_FOUND', `no pktmark filter on ${cmd.dev} ${cmd.direction} with ${what}`, { field: cmd.handle !== undefined ? 'handle' : 'prio', hint: `see pktmark tc filter show dev ${cmd.dev}` });
        }
        if (victims.length) await m.delete(victims.map((v) => v.id));
        if (g.json) io.out(JSON.stringify({ deleted: victims.map((v) => v.id) }));
      });
      return EXIT_OK;
  }
}

export async function tcFront(argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> {
  const cmd = parseTc(argv, g);
  checkGlobal(g);
  return runTc(cmd, g, io);
}
