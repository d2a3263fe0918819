/**
 * The iptables front's small parsers, one per match and one for the MARK target, in the shape
 * of iptables' extensions (libxt_limit.c, libxt_comment.c, libxt_tcp.c, libxt_MARK.c): each
 * owns its option words, consumes them from the cursor and writes a typed value into the
 * rule being built, or throws an error naming the word and its position.
 */
import { parseU32 } from '../../rule.js';
import { UsageError } from '../errors.js';
import type { Words } from '../words.js';

/** What the front builds before handing it to normalizeRule (which does every value check). */
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
  comment?: string;
}

export interface XtExtension {
  readonly name: string;
  /** option word → parser; the option word itself was just consumed */
  readonly options: Readonly<Record<string, (w: Words, r: XtRule) => void>>;
  /** called after the whole line was read (defaults, required options) */
  finish?(r: XtRule, loadedAt: number): void;
}

const once = (r: XtRule, key: keyof XtRule, w: Words): void => {
  if (r[key] !== undefined) throw new UsageError('INVALID_OPTION', `'${w.last}' at position ${w.lastPos}: ${key} is already given`, { field: w.last });
};

/** libxt_limit takes any leading part of second, minute, hour or day (`/s`, `/mi`, `/hou`, `/da`). */
function limitUnit(u: string): string | undefined {
  const k = u.toLowerCase();
  if (k === '') return undefined;
  return ['second', 'minute', 'hour', 'day'].find((full) => full.startsWith(k));
}

/** libxt_limit: --limit N[/second|minute|hour|day] (s, sec, m, min, h, d …), --limit-burst N */
export const limitMatch: XtExtension = {
  name: 'limit',
  options: {
    '--limit': (w, r) => {
      once(r, 'rate', w);
      const v = w.value('--limit', 'a rate like 1/s');
      const [n, unit] = v.split('/', 2);
      r.rate = unit === undefined ? `${v}/second` : `${n}/${limitUnit(unit) ?? unit}`;
    },
    '--limit-burst': (w, r) => { once(r, 'burst', w); r.burst = w.value('--limit-burst', 'a number'); },
  },
  // iptables' default when -m limit has no --limit: 3/hour
  finish: (r) => { if (r.rate === undefined) r.rate = '3/hour'; },
};

export const commentMatch: XtExtension = {
  name: 'comment',
  options: { '--comment': (w, r) => { once(r, 'comment', w); r.comment = w.value('--comment', 'text'); } },
  finish: (r, at) => {
    if (r.comment === undefined) throw new UsageError('INVALID_OPTION', `-m comment at position ${at} needs --comment TEXT`, { field: '--comment' });
  },
};

/** libxt_tcp / libxt_udp / libxt_sctp: single ports (ranges and lists are not modelled) */
function portParser(field: 'sport' | 'dport'): (w: Words, r: XtRule) => void {
  return (w, r) => {
    const opt = w.last!;
    once(r, field, w);
    const v = w.value(opt, 'a port');
    if (/[:,]/.test(v)) throw w.unsupported(v, w.lastPos, 'port ranges and lists are not supported: give one port');
    r[field] = v;
  };
}

export function portMatch(name: string): XtExtension {
  const sport = portParser('sport');
  const dport = portParser('dport');
  return { name, options: { '--sport': sport, '--source-port': sport, '--dport': dport, '--destination-port': dport } };
}

export const PORT_PROTOCOLS: Readonly<Record<string, string>> = { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', sctp: 'sctp', '132': 'sctp', udplite: 'udplite', '136': 'udplite' };

/** The matches `-m NAME` may load (tcp/udp/sctp also load implicitly with -p). */
export const MATCHES: Readonly<Record<string, () => XtExtension>> = {
  limit: () => limitMatch,
  comment: () => commentMatch,
  tcp: () => portMatch('tcp'),
  udp: () => portMatch('udp'),
  sctp: () => portMatch('sctp'),
  udplite: () => portMatch('udplite'),
};

function markValue(w: Words, opt: string): [number, number | undefined] {
  const v = w.value(opt, 'a value V[/M]');
  const [a, b, extra] = v.split('/');
  if (extra !== undefined) throw new UsageError('INVALID_MARK', `${opt} ${JSON.stringify(v)} at position ${w.lastPos} is not V[/M]`, { field: opt });
  return [parseU32(a, opt), b === undefined ? undefined : parseU32(b, `${opt} mask`, 'INVALID_MASK')];
}

/**
 * libxt_MARK (revision 2) and its meaning in pktmark's model, new = (old & ~mask) ^ mark:
 *   --set-xmark V/M  → mark V, mask M, xor             ((old & ~M) ^ V)
 *   --set-mark V/M   → mark V, mask M|V               ((old & ~M) | V; iptables widens the mask by V)
 *   --and-mark V     → mark 0, mask ~V                (old & V)
 *   --or-mark V      → mark V, mask V                 (old | V)
 *   --xor-mark V     → mark V, mask 0, xor            (old ^ V)
 */
export const markTarget: XtExtension = {
  name: 'MARK',
  options: {
    '--set-xmark': (w, r) => { once(r, 'mark', w); const [v, m] = markValue(w, '--set-xmark'); r.mark = v; r.mask = m ?? 0xffffffff; r.xor = true; },
    '--set-mark': (w, r) => { once(r, 'mark', w); const [v, m] = markValue(w, '--set-mark'); r.mark = v; r.mask = m === undefined ? 0xffffffff : (m | v) >>> 0; },
    '--and-mark': (w, r) => { once(r, 'mark', w); const [v, m] = markValue(w, '--and-mark'); noMask(w, m); r.mark = 0; r.mask = ~v >>> 0; },
    '--or-mark': (w, r) => { once(r, 'mark', w); const [v, m] = markValue(w, '--or-mark'); noMask(w, m); r.mark = v; r.mask = v; },
    '--xor-mark': (w, r) => { once(r, 'mark', w); const [v, m] = markValue(w, '--xor-mark'); noMask(w, m); r.mark = v; r.mask = 0; r.xor = true; },
  },
  finish: (r, at) => {
    if (r.mark === undefined) {
      throw new UsageError('INVALID_OPTION', `-j MARK at position ${at} needs one of --set-mark, --set-xmark, --and-mark, --or-mark, --xor-mark`, { field: '--set-mark' });
    }
  },
};

function noMask(w: Words, m: number | undefined): void {
  if (m !== undefined) throw new UsageError('INVALID_MARK', `${w.words[w.lastPos - 2] ?? 'option'} at position ${w.lastPos - 1} takes a value without /mask`, { field: w.words[w.lastPos - 2] });
}

export const TARGETS: Readonly<Record<string, XtExtension>> = { MARK: markTarget };
