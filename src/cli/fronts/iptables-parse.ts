/**
 * The words of one iptables command line → one command, walked like iptables' do_command:
 * getopt (getopt.ts) over the core options plus the options of every extension loaded so far
 * (`-p tcp` loads tcp implicitly, `-m NAME` a match, `-j NAME` the target), in any order; `!`
 * before the options iptables lets you negate. Which extension a protocol match needs is
 * checked at the end, so `-m udp --dport 1 -p 17` works as in iptables.
 */
import type { Hook, MarkRuleInput, XtTable } from '../../rule.js';
import { DEFAULT_TABLE, userChainProblem } from '../../backends/nft/chains.js';
import { UsageError } from '../errors.js';
import { Words } from '../words.js';
import { Getopt, OptTable, type OptSpec } from './getopt.js';
import { MATCHES, PORT_PROTOCOLS, ruleInput, TARGETS, type OptAt, type XtExtension, type XtRule } from './xt.js';
import { quickCommand } from './iptables-quick.js';

export const XT_CHAINS: Readonly<Record<string, Hook>> = { PREROUTING: 'prerouting', OUTPUT: 'output' };
const BUILTIN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/**
 * Rule commands name a built-in chain by its hook, or a user-defined chain (`-N`) by its name
 * (`chain`, with the table, which user chains always need: iptables' default table is filter).
 */
export type XtCommand =
  | { readonly op: 'append' | 'delete-spec'; readonly table: XtTable; readonly hook?: Hook; readonly chain?: string; readonly rule: MarkRuleInput }
  | { readonly op: 'insert'; readonly table: XtTable; readonly hook?: Hook; readonly chain?: string; readonly index: number; readonly rule: MarkRuleInput }
  | { readonly op: 'delete-index'; readonly table: XtTable; readonly hook?: Hook; readonly chain?: string; readonly index: number }
  | { readonly op: 'flush'; readonly table?: XtTable; readonly hook?: Hook; readonly chain?: string }
  | { readonly op: 'list'; readonly table?: XtTable; readonly hook?: Hook; readonly chain?: string; readonly verbose: boolean }
  | { readonly op: 'new-chain'; readonly table: XtTable; readonly hook?: undefined; readonly chain: string }
  | { readonly op: 'delete-chain'; readonly table: XtTable; readonly hook?: undefined; readonly chain?: string }
  | { readonly op: 'help' };

/** iptables' own targets pktmark does not have: refused by name, never taken for a user chain. */
const FOREIGN_TARGETS = new Set(['ACCEPT', 'DROP', 'QUEUE', 'DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'NETMAP', 'REJECT', 'LOG', 'NFLOG', 'ULOG',
  'TPROXY', 'CT', 'NOTRACK', 'TRACE', 'TOS', 'DSCP', 'ECN', 'TCPMSS', 'TTL', 'HL', 'CLASSIFY', 'SECMARK', 'CONNSECMARK', 'NFQUEUE', 'AUDIT',
  'CHECKSUM', 'IDLETIMER', 'LED', 'RATEEST', 'SET', 'SYNPROXY', 'TEE', 'HMARK', 'TCPOPTSTRIP']);

const o = (long: string, short: string | undefined, arg: OptSpec['arg'], key = short ? `-${short}` : `--${long}`): OptSpec =>
  (short ? { long, short, arg, key } : { long, arg, key });

/** xtables.c's original_opts and optstring, the ones pktmark takes (others are refused by name). */
const CORE: readonly OptSpec[] = [
  o('append', 'A', 'required'), o('delete', 'D', 'required'), o('insert', 'I', 'required'),
  o('list', 'L', 'optional'), o('flush', 'F', 'optional'), o('table', 't', 'required'),
  o('source', 's', 'required'), o('src', undefined, 'required', '-s'), o('destination', 'd', 'required'), o('dst', undefined, 'required', '-d'),
  o('protocol', 'p', 'required'), o('in-interface', 'i', 'required'), o('out-interface', 'o', 'required'),
  o('match', 'm', 'required'), o('jump', 'j', 'required'), o('numeric', 'n', 'none'), o('verbose', 'v', 'none'),
  o('wait', 'w', 'optional'), o('help', 'h', 'none'), o('exact', 'x', 'none'), o('line-numbers', undefined, 'none'),
  // known so that abbreviations are as ambiguous as in iptables (`--s`); refused when used
  o('set-counters', 'c', 'required'), o('check', 'C', 'required'), o('replace', 'R', 'required'), o('zero', 'Z', 'optional'),
  o('new-chain', 'N', 'required'), o('delete-chain', 'X', 'optional'), o('policy', 'P', 'required'), o('list-rules', 'S', 'optional'),
];
const CORE_TABLE = new OptTable(CORE);

/** The loaded extension that has option `key`, the first in lookup order. */
function extensionOf<L extends { ext: XtExtension }>(exts: readonly L[], key: string): L | undefined {
  for (const l of exts) if (Object.hasOwn(l.ext.options, key)) return l;
  return undefined;
}

/**
 * The option table of CORE plus the loaded extensions' options, in the order their options are
 * looked up (target first, then matches, newest first), built once per combination and kept:
 * rebuilding it for every word was most of a restore line's parse, and of its garbage.
 * Extensions are keyed by identity (an extension without options adds nothing).
 */
const EXT_IDS = new WeakMap<XtExtension, number>();
let nextExtId = 0;
const TABLES = new Map<string, OptTable>();
function optionTable(exts: readonly { ext: XtExtension }[]): OptTable {
  let key = '';
  for (const { ext } of exts) {
    let id = EXT_IDS.get(ext);
    if (id === undefined) {
      // (a -j CHAIN target is a new object without options on every line: it adds nothing, and is not kept)
      if (Object.keys(ext.options).length === 0) continue;
      id = nextExtId++;
      EXT_IDS.set(ext, id);
    }
    key += `${id},`;
  }
  if (key === '') return CORE_TABLE;
  let t = TABLES.get(key);
  if (!t) {
    // (extensions are module constants, so this stays a handful; the bound is for one that is not)
    if (TABLES.size >= 256) TABLES.clear();
    t = new OptTable([...CORE, ...exts.flatMap((l) => Object.keys(l.ext.options).map((k) => o(k.slice(2), undefined, l.ext.options[k].flag ? 'none' : 'required', k)))]);
    TABLES.set(key, t);
  }
  return t;
}

/** iptables lets these be negated (`! -s`, `! -p`, `! -i`); pktmark's model holds negation for addresses only. */
const NEGATABLE = new Set(['-s', '-d', '-p', '-i', '-o']);

export function parseIptables(words: readonly string[], family: 'ip' | 'ip6'): XtCommand {
  return quickCommand(words, family) ?? parseIptablesGetopt(words, family);
}

/** The whole grammar through getopt (parseIptables without its quick path; the property tests compare the two). */
export function parseIptablesGetopt(words: readonly string[], family: 'ip' | 'ip6'): XtCommand {
  const g = new Getopt(new Words(words, 1));
  const r: XtRule = { family };
  let table: XtTable | undefined;
  let tablePos = 0;
  let cmd: { name: string; pos: number; hook?: Hook; chain?: string; index?: number } | undefined;
  let bang: number | undefined;
  let verbose = false;
  const loaded: { ext: XtExtension; pos: number }[] = [];
  let target: { ext: XtExtension; pos: number } | undefined;
  let protoPos = 0;

  const chainOf = (name: string, pos: number): { hook?: Hook; chain?: string } => {
    const hook = XT_CHAINS[name];
    if (hook) return { hook };
    if (BUILTIN_CHAINS.has(name)) throw new UsageError('UNSUPPORTED', `unsupported word '${name}' at position ${pos}`, { field: name, hint: 'pktmark places rules in PREROUTING and OUTPUT of raw and mangle, and in user-defined chains' });
    const why = userChainProblem(name);
    if (why) throw new UsageError('INVALID_OPTION', `chain '${name}' at position ${pos}: ${why}`, { field: 'chain' });
    return { chain: name };
  };
  const command = (name: string, pos: number, chain: string | undefined, required: boolean): void => {
    if (cmd) throw new UsageError('INVALID_OPTION', `'${name}' at position ${pos}: only one command per line (already ${cmd.name} at position ${cmd.pos})`, { field: name });
    cmd = { name, pos };
    const c = chain ?? g.operand();
    if (c === undefined) {
      if (required) throw new UsageError('INVALID_OPTION', `${name} at position ${pos} needs a chain (PREROUTING or OUTPUT)`, { field: 'chain' });
      return;
    }
    Object.assign(cmd, chainOf(c, g.w.lastPos));
    if ((name === '-N' || name === '-X') && cmd.hook) throw new UsageError('INVALID_OPTION', `${name} at position ${pos}: ${c} is a built-in chain`, { field: 'chain' });
    const n = name === '-I' || name === '-D' ? g.operand() : undefined;
    if (n !== undefined) {
      if (!/^\d+$/.test(n)) throw new UsageError('UNSUPPORTED', `unsupported word '${n}' at position ${g.w.lastPos}`, { field: n });
      if (Number(n) < 1) throw new UsageError('INVALID_OPTION', `rule number ${n} at position ${g.w.lastPos} must be 1 or more`, { field: 'rulenum' });
      cmd.index = Number(n);
    }
  };
  const once = (key: keyof XtRule, at: OptAt): void => {
    if (r[key] !== undefined) throw new UsageError('INVALID_OPTION', `'${at.word}' at position ${at.pos}: ${key} is already given`, { field: at.word });
  };

  // the option table grows with the loaded extensions (their options are long-only): exts and
  // its table are remade only when -p, -m or -j loads one
  let exts: { ext: XtExtension; pos: number }[] = [];
  let options = CORE_TABLE;
  let extsFor = 0;
  while (!g.done) {
    if (extsFor !== loaded.length + (target ? 1 : 0)) {
      exts = target ? [target] : [];
      for (let i = loaded.length - 1; i >= 0; i--) exts.push(loaded[i]);
      options = optionTable(exts);
      extsFor = exts.length;
    }
    const t = g.next(options);
    if (t.kind === 'bang') {
      if (bang !== undefined) throw new UsageError('INVALID_OPTION', `'!' at position ${t.pos}: multiple ! flags not allowed`, { field: '!' });
      bang = t.pos;
      continue;
    }
    if (t.kind === 'word') throw new UsageError('UNSUPPORTED', `unsupported word '${t.word}' at position ${t.pos}`, { field: t.word });
    const key = t.spec.key;
    const at: OptAt = { word: t.word, pos: t.pos, negate: bang !== undefined };
    const ext = key.startsWith('--') ? extensionOf(exts, key) : undefined;
    if (bang !== undefined && !(ext ? ext.ext.options[key].negatable : NEGATABLE.has(key))) {
      throw new UsageError('INVALID_OPTION', `'!' at position ${bang}: ${t.word} cannot be negated`, { field: '!' });
    }
    bang = undefined;
    if (ext) { ext.ext.options[key].parse(t.value ?? '', r, at); continue; }
    const v = t.value ?? '';
    switch (key) {
      case '-t':
        if (tablePos) throw new UsageError('INVALID_OPTION', `-t at position ${t.pos}: the table is already given`, { field: '-t' });
        if (v !== 'raw' && v !== 'mangle') throw new UsageError('UNSUPPORTED', `unsupported word '${v}' at position ${t.valuePos ?? t.pos}`, { field: v, hint: 'pktmark has the raw and mangle tables (the mark family)' });
        table = v; tablePos = t.pos;
        break;
      case '-A': command('-A', t.pos, v, true); break;
      case '-I': command('-I', t.pos, v, true); break;
      case '-D': command('-D', t.pos, v, true); break;
      case '-F': command('-F', t.pos, t.value, false); break;
      case '-L': command('-L', t.pos, t.value, false); break;
      case '-N': command('-N', t.pos, v, true); break;
      case '-X': command('-X', t.pos, t.value, false); break;
      case '-h': return { op: 'help' };
      case '-n': case '-x': case '--line-numbers': break; // pktmark never resolves names; counters are exact
      case '-v': verbose = true; break;
      case '-w': if (t.value === undefined && /^\d+(\.\d+)?$/.test(g.w.peek() ?? '')) g.w.take(); break; // no xtables lock to wait for
      case '-s': case '-d': {
        const f = key === '-s' ? 'src' : 'dst';
        once(f, at);
        if (v.startsWith('!')) throw new UsageError('UNSUPPORTED', `unsupported word '${v}' at position ${t.valuePos ?? t.pos}`, { field: v, hint: 'write the negation before the option: ! -s ADDR' });
        if (v.includes(',')) throw new UsageError('UNSUPPORTED', `unsupported word '${v}' at position ${t.valuePos ?? t.pos}`, { field: v, hint: 'one address per rule (iptables makes one rule per address)' });
        r[f] = at.negate ? `!${v}` : v;
        break;
      }
      case '-p': {
        once('proto', at);
        if (at.negate) throw new UsageError('UNSUPPORTED', `unsupported word '!' at position ${t.pos - 1}`, { field: '!', hint: 'pktmark cannot negate -p' });
        // -p all (or 0) is iptables' "any protocol": no match
        if (v.toLowerCase() === 'all' || v === '0') break;
        r.proto = v;
        protoPos = t.pos;
        const implicit = PORT_PROTOCOLS[v.toLowerCase()];
        // iptables loads the protocol's match implicitly, so --sport/--dport may follow -p tcp
        if (implicit && !loaded.some((l) => l.ext.name === implicit)) loaded.push({ ext: MATCHES[implicit](), pos: t.pos });
        break;
      }
      case '-i': case '-o': {
        const f = key === '-i' ? 'iif' : 'oif';
        if (r[f] !== undefined) throw new UsageError('INVALID_OPTION', `${t.word} at position ${t.pos} is given twice`, { field: f });
        if (at.negate) throw new UsageError('UNSUPPORTED', `unsupported word '!' at position ${t.pos - 1}`, { field: '!', hint: `pktmark cannot negate ${t.word}` });
        r[f] = v;
        break;
      }
      case '-m': {
        const make = Object.hasOwn(MATCHES, v) ? MATCHES[v] : undefined;
        if (!make) throw new UsageError('UNSUPPORTED', `unsupported word '${v}' at position ${t.valuePos ?? t.pos}`, { field: v, hint: `supported matches: ${Object.keys(MATCHES).join(', ')}` });
        if (!loaded.some((l) => l.ext.name === v)) loaded.push({ ext: make(), pos: t.valuePos ?? t.pos });
        break;
      }
      case '-j': {
        let ext = Object.hasOwn(TARGETS, v) ? TARGETS[v] : undefined;
        // not a target pktmark has: RETURN, or a user-defined chain (whether it exists is checked where the chains are known)
        if (!ext && (v === 'RETURN' || (!FOREIGN_TARGETS.has(v) && !BUILTIN_CHAINS.has(v) && userChainProblem(v) === undefined))) {
          ext = { name: v, options: {} };
          if (!target) r.jump = v;
        }
        if (!ext) throw new UsageError('UNSUPPORTED', `unsupported word '${v}' at position ${t.valuePos ?? t.pos}`, { field: v, hint: 'pktmark supports the MARK and CONNMARK targets, RETURN and user-defined chains' });
        if (target) throw new UsageError('INVALID_OPTION', `-j at position ${t.pos}: the target is already given`, { field: '-j' });
        target = { ext, pos: t.valuePos ?? t.pos };
        break;
      }
      default:
        throw new UsageError('UNSUPPORTED', `unsupported word '${t.word}' at position ${t.pos}`, { field: t.word });
    }
  }
  if (bang !== undefined) throw new UsageError('UNSUPPORTED', `unsupported word '!' at position ${bang}`, { field: '!', hint: 'a trailing ! negates nothing' });
  if (!cmd) throw new UsageError('INVALID_OPTION', 'no command given: use -A, -I, -D, -F, -L, -N or -X', { field: 'command', hint: 'see pktmark iptables --help' });
  if (cmd.chain !== undefined && !table) {
    throw new UsageError('INVALID_OPTION', `${cmd.name} at position ${cmd.pos}: user-defined chain ${cmd.chain} needs -t raw or -t mangle`, { field: '-t', hint: "iptables' default table is filter, which pktmark does not have" });
  }
  // iptables' default table is filter, which pktmark does not have; without -t a chain takes
  // the table pktmark always put it in (PREROUTING: raw, OUTPUT: mangle), for -L/-F every table
  const ruleWords = r.src !== undefined || r.dst !== undefined || r.proto !== undefined || r.iif !== undefined || r.oif !== undefined || loaded.length > 0 || target !== undefined;

  const where = cmd.chain !== undefined ? { chain: cmd.chain } : cmd.hook ? { hook: cmd.hook } : {};
  if (cmd.name === '-F' || cmd.name === '-L' || cmd.name === '-N' || cmd.name === '-X' || (cmd.name === '-D' && cmd.index !== undefined)) {
    if (ruleWords) throw new UsageError('INVALID_OPTION', `${cmd.name} at position ${cmd.pos} takes no rule options`, { field: cmd.name });
    const tb = table ? { table } : {};
    if (cmd.name === '-F') return { op: 'flush', ...tb, ...where };
    if (cmd.name === '-L') return { op: 'list', ...tb, verbose, ...where };
    if (cmd.name === '-N') return { op: 'new-chain', table: table!, chain: cmd.chain! };
    if (cmd.name === '-X') {
      if (!table) throw new UsageError('INVALID_OPTION', `-X at position ${cmd.pos} needs -t raw or -t mangle`, { field: '-t' });
      return { op: 'delete-chain', table, ...(cmd.chain !== undefined ? { chain: cmd.chain } : {}) };
    }
    return { op: 'delete-index', table: table ?? DEFAULT_TABLE[cmd.hook!], ...where, index: cmd.index! };
  }
  if (!target) throw new UsageError('INVALID_OPTION', `${cmd.name} at position ${cmd.pos} needs -j MARK --set-mark V[/M] (or CONNMARK, RETURN, a chain)`, { field: '-j' });
  // a protocol match (-m tcp/udp/…) needs the same -p, wherever on the line it came
  for (const l of loaded) {
    const want = Object.values(PORT_PROTOCOLS).includes(l.ext.name) ? l.ext.name : l.ext.name === 'multiport' ? 'multiport' : undefined;
    if (!want) continue;
    const have = PORT_PROTOCOLS[(r.proto ?? '').toLowerCase()];
    if (want === 'multiport' ? !have : have !== want) {
      throw new UsageError('PORT_WITHOUT_PROTO', `-m ${l.ext.name} at position ${l.pos} needs ${want === 'multiport' ? '-p tcp, udp, sctp or udplite' : `-p ${want}`}`, { field: '-m', hint: `add -p ${want === 'multiport' ? 'tcp' : want}` });
    }
  }
  void protoPos;
  for (const l of loaded) l.ext.finish?.(r, l.pos);
  target.ext.finish?.(r, target.pos);
  if (cmd.hook === 'output' && r.iif !== undefined) throw new UsageError('INVALID_OPTION', `-i at position ${cmd.pos}: Can't use -i with OUTPUT`, { field: 'iif' });
  if (cmd.hook === 'prerouting' && r.oif !== undefined) throw new UsageError('INVALID_OPTION', `-o at position ${cmd.pos}: Can't use -o with PREROUTING`, { field: 'oif' });
  const tb = table ?? DEFAULT_TABLE[cmd.hook!];
  const rule = ruleInput(r, cmd, table);
  const op = cmd.name === '-A' ? 'append' : cmd.name === '-I' ? 'insert' : 'delete-spec';
  // (keys in the order the object spreads that built these gave them; a restore builds 10,000s)
  const c: { op: typeof op; table: XtTable; chain?: string; hook?: Hook; index?: number; rule?: MarkRuleInput } = { op, table: tb };
  if (cmd.chain !== undefined) c.chain = cmd.chain; else if (cmd.hook) c.hook = cmd.hook;
  if (op === 'insert') c.index = cmd.index ?? 1;
  c.rule = rule;
  return c as XtCommand;
}
