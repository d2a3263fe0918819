/**
 * The iptables front's small parsers, one per match and target, in the shape of iptables'
 * extensions (libxt_limit.c, libxt_comment.c, libxt_tcp.c, libxt_multiport.c, libxt_mark.c,
 * libxt_MARK.c): each declares its long options, takes the value getopt found (and whether a
 * `!` came before), and writes a typed value into the rule being built, or throws an error
 * naming the word and its position. normalizeRule does the value checks after.
 */
import { parseU32, type Hook, type MarkRuleInput, type XtTable } from '../../rule.js';
import type { ConnmarkInput } from '../../connmark.js';
import { parsePortField } from '../../ports.js';
import { UsageError } from '../errors.js';

/** What the front builds before handing it to normalizeRule. */
export interface XtRule {
  family: 'ip' | 'ip6';
  src?: string;
  dst?: string;
  proto?: string;
  sport?: string;
  dport?: string;
  iif?: string;
  oif?: string;
  mark?: number;
  mask?: number;
  xor?: boolean;
  rate?: string;
  burst?: string;
  markMatch?: string;
  ctmarkMatch?: string;
  /** -j CONNMARK, as connmark.ts's input */
  connmark?: XtConnmark;
  /** -j CHAIN / -j RETURN */
  jump?: string;
  comment?: string;
}

/** CONNMARK's options as they are read; finish() checks the combination. */
export interface XtConnmark {
  op?: 'set' | 'save' | 'restore';
  opAt?: OptAt;
  value?: number;
  mask?: number;
  nfmask?: number;
  ctmask?: number;
  bothMask?: number;
  shift?: { dir: 'left' | 'right'; bits: number };
  maskAt?: OptAt;
}

/** Where an option stood: its word (the long name getopt resolved), position, and a `!` before it. */
export interface OptAt { readonly word: string; readonly pos: number; readonly negate: boolean }

export interface XtOption {
  /** options without a value (none here take one optionally) */
  readonly flag?: true;
  /** whether iptables accepts `!` before it */
  readonly negatable?: true;
  parse(value: string, r: XtRule, at: OptAt): void;
}

export interface XtExtension {
  readonly name: string;
  readonly options: Readonly<Record<string, XtOption>>;
  /** called after the whole line was read (defaults, required options) */
  finish?(r: XtRule, loadedAt: number): void;
}

const once = (r: XtRule, key: keyof XtRule, at: OptAt): void => {
  if (r[key] !== undefined) throw new UsageError('INVALID_OPTION', `'${at.word}' at position ${at.pos}: ${key} is already given`, { field: at.word });
};
const opt = (parse: XtOption['parse'], negatable = false): XtOption => (negatable ? { parse, negatable: true } : { parse });

/** libxt_limit takes any leading part of second, minute, hour or day (`/s`, `/mi`, `/hou`, `/da`). */
function limitUnit(u: string): string | undefined {
  const k = u.toLowerCase();
  if (k === '') return undefined;
  return ['second', 'minute', 'hour', 'day'].find((full) => full.startsWith(k));
}

export const limitMatch: XtExtension = {
  name: 'limit',
  options: {
    '--limit': opt((v, r, at) => {
      once(r, 'rate', at);
      const [n, unit] = v.split('/', 2);
      r.rate = unit === undefined ? `${v}/second` : `${n}/${limitUnit(unit) ?? unit}`;
    }),
    '--limit-burst': opt((v, r, at) => { once(r, 'burst', at); r.burst = v; }),
  },
  // iptables' default when -m limit has no --limit: 3/hour
  finish: (r) => { if (r.rate === undefined) r.rate = '3/hour'; },
};

export const commentMatch: XtExtension = {
  name: 'comment',
  options: { '--comment': opt((v, r, at) => { once(r, 'comment', at); r.comment = v; }) },
  finish: (r, at) => {
    if (r.comment === undefined) throw new UsageError('INVALID_OPTION', `-m comment at position ${at} needs --comment TEXT`, { field: '--comment' });
  },
};

/** libxt_tcp / udp / sctp: `[!] --sport A[:B]` (xtables_parse_port: `A:`, `:B` allowed; no lists). */
function portOption(field: 'sport' | 'dport'): XtOption {
  return opt((v, r, at) => {
    once(r, field, at);
    if (v.includes(',')) throw new UsageError('UNSUPPORTED', `unsupported word '${v}' at position ${at.pos + 1}`, { field: at.word, hint: 'a list of ports needs -m multiport' });
    r[field] = (at.negate ? '!' : '') + v;
  }, true);
}

export function portMatch(name: string): XtExtension {
  const sport = portOption('sport');
  const dport = portOption('dport');
  return { name, options: { '--sport': sport, '--source-port': sport, '--dport': dport, '--destination-port': dport } };
}

/** libxt_multiport: `[!] --sports/--dports P[,P|A:B…]`, at most 15 slots (a range takes 2). */
function multiportOption(field: 'sport' | 'dport'): XtOption {
  return opt((v, r, at) => {
    once(r, field, at);
    parsePortField(v, at.word);
    // counted as written, before ranges merge: a range takes two of XT_MULTI_PORTS (15) slots
    if (v.replace(/^!/, '').split(',').reduce((n, x) => n + (x.includes(':') ? 2 : 1), 0) > 15) throw new UsageError('INVALID_PORT', `${at.word} at position ${at.pos}: too many ports specified (multiport takes 15)`, { field: at.word });
    r[field] = (at.negate ? '!' : '') + v;
  }, true);
}

export const multiportMatch: XtExtension = {
  name: 'multiport',
  options: {
    '--sports': multiportOption('sport'), '--source-ports': multiportOption('sport'),
    '--dports': multiportOption('dport'), '--destination-ports': multiportOption('dport'),
  },
  finish: (r, at) => {
    if (r.sport === undefined && r.dport === undefined) throw new UsageError('INVALID_OPTION', `-m multiport at position ${at} needs --sports or --dports`, { field: '--dports' });
  },
};

/** libxt_mark / libxt_connmark (the match): `[!] --mark V[/M]`. */
function markMatch(name: string, field: 'markMatch' | 'ctmarkMatch'): XtExtension {
  return {
    name,
    options: { '--mark': opt((v, r, at) => { once(r, field, at); r[field] = (at.negate ? '!' : '') + v; }, true) },
    finish: (r, at) => { if (r[field] === undefined) throw new UsageError('INVALID_OPTION', `-m ${name} at position ${at} needs --mark V[/M]`, { field: '--mark' }); },
  };
}

export const PORT_PROTOCOLS: Readonly<Record<string, string>> = { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', sctp: 'sctp', '132': 'sctp', udplite: 'udplite', '136': 'udplite' };

// one object per match (they hold no state): the front keeps an option table per set of loaded extensions
const tcpMatch = portMatch('tcp'), udpMatch = portMatch('udp'), sctpMatch = portMatch('sctp'), udpliteMatch = portMatch('udplite');
const markMatchExt = markMatch('mark', 'markMatch'), connmarkMatchExt = markMatch('connmark', 'ctmarkMatch');

/** The matches `-m NAME` may load (tcp/udp/sctp also load implicitly with -p). */
export const MATCHES: Readonly<Record<string, () => XtExtension>> = {
  limit: () => limitMatch,
  comment: () => commentMatch,
  tcp: () => tcpMatch,
  udp: () => udpMatch,
  sctp: () => sctpMatch,
  udplite: () => udpliteMatch,
  multiport: () => multiportMatch,
  mark: () => markMatchExt,
  connmark: () => connmarkMatchExt,
};

/**
 * `V` or `V/M` where both are plain (1-9 decimal digits, or 0x and 1-8 hex digits), else
 * undefined: what parseU32 gives for them, without its regex and split (a restore reads one per line).
 */
export function plainMarkValue(v: string): [number, number | undefined] | undefined {
  const slash = v.indexOf('/');
  const x = plainU32(v, 0, slash < 0 ? v.length : slash);
  if (x < 0) return undefined;
  if (slash < 0) return [x, undefined];
  const m = plainU32(v, slash + 1, v.length);
  return m < 0 ? undefined : [x, m];
}

export function plainU32(v: string, from: number, to: number): number {
  const hex = to - from > 2 && v.charCodeAt(from) === 48 && v.charCodeAt(from + 1) === 120; // 0x
  const start = hex ? from + 2 : from;
  if (to <= start || to - start > (hex ? 8 : 9)) return -1;
  let n = 0;
  for (let i = start; i < to; i++) {
    const c = v.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : hex && c >= 97 && c <= 102 ? c - 87 : hex && c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    n = n * (hex ? 16 : 10) + d;
  }
  return n;
}

function markValue(v: string, at: OptAt): [number, number | undefined] {
  const plain = plainMarkValue(v);
  if (plain) return plain;
  const [a, b, extra] = v.split('/');
  if (extra !== undefined) throw new UsageError('INVALID_MARK', `${at.word} ${JSON.stringify(v)} at position ${at.pos} is not V[/M]`, { field: at.word });
  return [parseU32(a, at.word), b === undefined ? undefined : parseU32(b, `${at.word} mask`, 'INVALID_MASK')];
}

function noMask(at: OptAt, m: number | undefined): void {
  if (m !== undefined) throw new UsageError('INVALID_MARK', `${at.word} at position ${at.pos} takes a value without /mask`, { field: at.word });
}

/**
 * libxt_MARK (revision 2) and its meaning in pktmark's model, new = (old & ~mask) ^ mark:
 *   --set-xmark V/M  → mark V, mask M, xor             ((old & ~M) ^ V)
 *   --set-mark V/M   → mark V, mask M|V               ((old & ~M) | V; iptables widens the mask by V)
 *   --and-mark V     → mark 0, mask ~V                (old & V)
 *   --or-mark V      → mark V, mask V                 (old | V)
 *   --xor-mark V     → mark V, mask 0, xor            (old ^ V)
 */
export type MarkOp = '--set-xmark' | '--set-mark' | '--and-mark' | '--or-mark' | '--xor-mark';
const MARK_OPS: readonly MarkOp[] = ['--set-xmark', '--set-mark', '--and-mark', '--or-mark', '--xor-mark'];
/** Only the two set forms take `V/M`; the others take a bare value. */
export const takesMask = (how: MarkOp): boolean => how === '--set-xmark' || how === '--set-mark';

/** One of the five forms (the table above) as value, mask and xor; CONNMARK's set forms are the same five. */
export function markForm(how: MarkOp, x: number, m: number | undefined): { readonly value: number; readonly mask: number; readonly xor: boolean } {
  switch (how) {
    case '--set-xmark': return { value: x, mask: m ?? 0xffffffff, xor: true };
    case '--set-mark': return { value: x, mask: m === undefined ? 0xffffffff : (m | x) >>> 0, xor: false };
    case '--and-mark': return { value: 0, mask: ~x >>> 0, xor: false };
    case '--or-mark': return { value: x, mask: x, xor: false };
    case '--xor-mark': return { value: x, mask: 0, xor: true };
  }
}

/** A MARK form into the rule (the quick path of iptables-quick.ts writes the same three fields). */
export function setMarkForm(r: XtRule, how: MarkOp, x: number, m: number | undefined): void {
  const f = markForm(how, x, m);
  r.mark = f.value;
  r.mask = f.mask;
  if (f.xor) r.xor = true;
}

export const markTarget: XtExtension = {
  name: 'MARK',
  options: Object.fromEntries(MARK_OPS.map((how) => [how, opt((v, r, at) => {
    once(r, 'mark', at);
    const [x, m] = markValue(v, at);
    if (!takesMask(how)) noMask(at, m);
    setMarkForm(r, how, x, m);
  })])),
  finish: (r, at) => {
    if (r.mark === undefined) {
      throw new UsageError('INVALID_OPTION', `-j MARK at position ${at} needs one of --set-mark, --set-xmark, --and-mark, --or-mark, --xor-mark`, { field: '--set-mark' });
    }
  },
};

/**
 * libxt_CONNMARK (revision 2), ctmark = (ctmark & ~ctmask) ^ ctmark-value for the set forms
 * (the same five as MARK), and the copies --save-mark / --restore-mark with --mask (both masks),
 * --nfmask, --ctmask and the shifts --left-shift-mark / --right-shift-mark N.
 */
function cmOp(op: 'set' | 'save' | 'restore', fill: (c: XtConnmark, v: string, at: OptAt) => void, flag = false): XtOption {
  const parse: XtOption['parse'] = (v, r, at) => {
    const c = (r.connmark ??= {});
    if (c.op !== undefined) throw new UsageError('INVALID_OPTION', `'${at.word}' at position ${at.pos}: CONNMARK takes one operation (already ${c.opAt!.word} at position ${c.opAt!.pos})`, { field: at.word });
    c.op = op;
    c.opAt = at;
    fill(c, v, at);
  };
  return flag ? { parse, flag: true } : { parse };
}
function cmMask(key: 'nfmask' | 'ctmask' | 'bothMask'): XtOption {
  return opt((v, r, at) => {
    const c = (r.connmark ??= {});
    if (c[key] !== undefined) throw new UsageError('INVALID_OPTION', `'${at.word}' at position ${at.pos} is given twice`, { field: at.word });
    if (key === 'bothMask' ? c.nfmask !== undefined || c.ctmask !== undefined : c.bothMask !== undefined) {
      throw new UsageError('INVALID_OPTION', `'${at.word}' at position ${at.pos}: --mask cannot be combined with --nfmask or --ctmask`, { field: at.word });
    }
    c[key] = parseU32(v, at.word, 'INVALID_MASK');
    c.maskAt = at;
  });
}
function cmShift(dir: 'left' | 'right'): XtOption {
  return opt((v, r, at) => {
    const c = (r.connmark ??= {});
    if (c.shift !== undefined) throw new UsageError('INVALID_OPTION', `'${at.word}' at position ${at.pos}: the shift is already given`, { field: at.word });
    if (!/^\d+$/.test(v) || Number(v) > 31) throw new UsageError('INVALID_OPTION', `${at.word} ${JSON.stringify(v)} at position ${at.pos} is not a bit count 0-31`, { field: at.word });
    c.shift = { dir, bits: Number(v) };
    c.maskAt ??= at;
  });
}

export const connmarkTarget: XtExtension = {
  name: 'CONNMARK',
  options: {
    // the five set forms, as MARK's (CONNMARK's are always (ctmark & ~mask) ^ value: no xor flag)
    ...Object.fromEntries(MARK_OPS.map((how) => [how, cmOp('set', (c, v, at) => {
      const [x, m] = markValue(v, at);
      if (!takesMask(how)) noMask(at, m);
      const f = markForm(how, x, m);
      c.value = f.value;
      c.mask = f.mask;
    })])),
    '--save-mark': cmOp('save', () => {}, true),
    '--restore-mark': cmOp('restore', () => {}, true),
    '--mask': cmMask('bothMask'),
    '--nfmask': cmMask('nfmask'),
    '--ctmask': cmMask('ctmask'),
    '--left-shift-mark': cmShift('left'),
    '--right-shift-mark': cmShift('right'),
  },
  finish: (r, at) => {
    const c = r.connmark;
    if (c?.op === undefined) throw new UsageError('INVALID_OPTION', `-j CONNMARK at position ${at}: No operation specified (--set-mark, --set-xmark, --and-mark, --or-mark, --xor-mark, --save-mark or --restore-mark)`, { field: '--save-mark' });
    if (c.op === 'set' && c.maskAt) throw new UsageError('INVALID_OPTION', `'${c.maskAt.word}' at position ${c.maskAt.pos} applies to --save-mark and --restore-mark only`, { field: c.maskAt.word });
  },
};

export const TARGETS: Readonly<Record<string, XtExtension>> = { MARK: markTarget, CONNMARK: connmarkTarget };

/** The statement of a finished CONNMARK, as the rule field connmark. */
export function connmarkField(c: XtConnmark): ConnmarkInput {
  if (c.op === 'set') return { op: 'set', value: c.value!, mask: c.mask! };
  const masks = c.bothMask !== undefined ? { mask: c.bothMask } : { ...(c.nfmask !== undefined ? { nfmask: c.nfmask } : {}), ...(c.ctmask !== undefined ? { ctmask: c.ctmask } : {}) };
  return { op: c.op!, ...masks, ...(c.shift ? { shift: c.shift } : {}) };
}

/**
 * The rule a command's words make: via, family, the chain or hook, the table, then the fields in
 * the order the words gave them, then CONNMARK's statement and the jump (the order object spreads
 * gave it, built without them: they were a fifth of a restore line's parse).
 */
export function ruleInput(r: XtRule, cmd: { readonly hook?: Hook; readonly chain?: string }, table: XtTable | undefined): MarkRuleInput {
  const rule: Record<string, unknown> = { via: 'nft', family: r.family };
  if (cmd.chain !== undefined) rule.chain = cmd.chain; else if (cmd.hook) rule.hook = cmd.hook;
  if (table) rule.table = table;
  const fields = r as unknown as Record<string, unknown>;
  for (const k in fields) if (k !== 'family' && k !== 'connmark' && k !== 'jump') rule[k] = fields[k];
  if (r.connmark) rule.connmark = connmarkField(r.connmark);
  if (r.jump !== undefined) rule.jump = r.jump;
  return rule as unknown as MarkRuleInput;
}
