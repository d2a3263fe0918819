/**
 * MarkRule: the one model every path shares (library, CLI, iptables and tc fronts, nft and tc
 * backends, and `list` decoding). `normalizeRule` is the single place where user input is
 * checked; everything after it may trust a MarkRule.
 */
import type { Cidr, Family } from '../codecs/address.js';
import { FULL_MASK, MAX_COMMENT_BYTES, PORT_PROTOCOLS, fail, parseFamily, parseMarkSpec, parseMarkValueMatch, parseProto, parseRate } from './rule-values.js';

// the value parsers live in rule-values.ts; re-exported, so `./rule.js` stays the one import
export { MAX_COMMENT_BYTES, IFNAMSIZ, FULL_MASK, fail, parseU32, protocolName, parseProto, parsePort, parseIfName, parseRate, parseMarkSpec, parseHook, parseMarkValueMatch, parsePrio, parseDirection } from './rule-values.js';

export type Mark = number & { readonly __brand: 'Mark' };
export type Mask = number & { readonly __brand: 'Mask' };
export type IfName = string & { readonly __brand: 'IfName' };
export type { Via } from './backends/index.js';
import type { Via } from './backends/index.js';
export type Hook = 'prerouting' | 'output';
/** The iptables table a rule belongs to: it picks the chain's priority (raw -300, mangle -150). */
export type XtTable = 'raw' | 'mangle';
export type Direction = 'ingress' | 'egress';
export type RateUnit = 'second' | 'minute' | 'hour' | 'day';
export type { Family, Cidr };

import type { AddressList, AddressMatch } from './addresses.js';
import type { ConnmarkInput, ConnmarkStatement } from './connmark.js';
export type { ConnmarkInput, ConnmarkStatement, MarkShift } from './connmark.js';
import { parseAddressList, parseAddressMatch } from './addresses.js';
import { parsePortField, type PortInput, type PortMatch } from './ports.js';
export type { AddressList, AddressMatch, PortMatch, PortInput };
export type { PortRange } from './ports.js';

export interface Rate {
  /** packets per unit */
  readonly rate: number;
  readonly unit: RateUnit;
  /** packets allowed above the rate in a burst (nft and iptables default: 5) */
  readonly burst: number;
}

/** A validated, normalized rule. Optional fields are absent (not undefined) when unused. */
export interface MarkRule {
  readonly via: Via;
  /** ip or ip6; absent means both (the inet table sees either) */
  readonly family?: Family;
  readonly src?: AddressMatch;
  readonly dst?: AddressMatch;
  /** an address list (`src: [...]`): one rule per family with an nft set lookup (nft only; never with src) */
  readonly srcList?: AddressList;
  readonly dstList?: AddressList;
  /** IP protocol / IPv6 next header number */
  readonly proto?: number;
  /** one port; ranges, lists and negation are in sports/dports (never both) */
  readonly sport?: number;
  readonly dport?: number;
  readonly sports?: PortMatch;
  readonly dports?: PortMatch;
  readonly iif?: IfName;
  readonly oif?: IfName;
  /** nft only: the chain/hook the rule lives in */
  readonly hook?: Hook;
  /** nft only: absent means the hook's default (prerouting: raw, output: mangle) */
  readonly table?: XtTable;
  /** tc, bpf and xdp: the device the program or filter sits on */
  readonly dev?: IfName;
  readonly direction?: Direction;
  readonly prio?: number;
  /** cgroup only: the cgroup v2 directory whose new sockets get the mark (a path below the cgroup2 mount) */
  readonly cgroup?: string;
  /**
   * new mark = (old & ~mask) ^ mark. With mark ⊆ mask (always, unless `xor`), that is the
   * iptables --set-mark V/M meaning `(old & ~M) | V`; mask 0xffffffff sets the whole mark.
   */
  readonly mark: Mark;
  readonly mask: Mask;
  /** iptables --set-xmark / --xor-mark: mark bits outside the mask toggle */
  readonly xor?: boolean;
  readonly rate?: Rate;
  /** match on the packet's current mark (`-m mark [!] --mark V/M`, nft `meta mark & M == V`) */
  readonly markMatch?: MarkValueMatch;
  /** match on the connection's mark (`-m connmark [!] --mark V/M`, nft `ct mark & M == V`) */
  readonly ctmarkMatch?: MarkValueMatch;
  /** nft only: the rule sets or copies the connection's mark instead (connmark.ts); mark and mask are then 0 */
  readonly connmark?: ConnmarkStatement;
  /** nft only: the rule lives in this user-defined chain of `table` (iptables -N), not in a hook's chain */
  readonly chain?: string;
  /** nft only: the rule jumps to this user-defined chain of its table, or returns (`RETURN`); mark and mask are then 0 */
  readonly jump?: string;
  readonly comment?: string;
}

/** `(x & mask) == value`, or `!=` when negated. */
export interface MarkValueMatch { readonly value: number; readonly mask: number; readonly negate: boolean }

/** What callers may pass: numbers or strings, with defaults filled in by normalizeRule. */
export interface MarkRuleInput {
  readonly via?: Via;
  readonly family?: Family | 'ipv4' | 'ipv6' | 'inet' | '4' | '6' | 4 | 6;
  /** an address, or a list of addresses, prefixes and ranges (nft: one rule with a set lookup) */
  readonly src?: string | readonly string[];
  readonly dst?: string | readonly string[];
  readonly proto?: string | number;
  /** `53`, `1024-65535` (iptables `1024:`), `!53`, `80,443`, or `{ from, to, negate? }` */
  readonly sport?: PortInput;
  readonly dport?: PortInput;
  readonly iif?: string;
  readonly oif?: string;
  readonly hook?: string;
  /** nft: `raw` or `mangle` (iptables -t) */
  readonly table?: string;
  readonly dev?: string;
  readonly direction?: string;
  readonly prio?: number | string;
  /** via cgroup: a cgroup v2 directory, absolute or relative to the cgroup2 mount */
  readonly cgroup?: string;
  /** `V` or `V/M`, decimal or 0x-hex; required unless the rule's statement is connmark or jump */
  readonly mark?: number | string;
  readonly mask?: number | string;
  readonly xor?: boolean;
  /** `N/second|minute|hour|day` (also s, m, h, d, sec, min) */
  readonly rate?: string;
  readonly burst?: number | string;
  /** `V`, `V/M`, `!V/M`: match on the packet's mark */
  readonly markMatch?: string | number;
  /** `V`, `V/M`, `!V/M`: match on the connection's mark */
  readonly ctmarkMatch?: string | number;
  /** nft: set the connection's mark, or copy between it and the packet's (CONNMARK) */
  readonly connmark?: ConnmarkInput;
  /** nft: a user-defined chain (needs `table`) the rule lives in */
  readonly chain?: string;
  /** nft: jump to a user-defined chain of the same table, or `RETURN` */
  readonly jump?: string;
  readonly comment?: string;
}

/** Fields every backend understands; each backend adds its own (RuleFields.fields). */
export const SHARED_FIELDS: readonly string[] = ['via', 'family', 'src', 'dst', 'proto', 'sport', 'dport', 'mark', 'mask', 'xor', 'rate', 'burst', 'markMatch', 'ctmarkMatch', 'comment'];
/** SHARED_FIELDS for per-key lookups (every key of every rule of a bulk add is checked). */
export const SHARED_FIELD_SET: ReadonlySet<string> = new Set(SHARED_FIELDS);

/** A rule under construction: what normalize functions fill in. */
export type RuleDraft = { -readonly [K in keyof MarkRule]?: MarkRule[K] };

/**
 * A fresh draft: a plain object (Object.prototype, constructor Object, as a literal would be),
 * made by `new` so that V8 gives it room for all its fields in the object itself. A literal
 * `{ via }` has room for one, and every further field went into a separate, regrown property
 * array: one more object per rule, and every rule of a bulk add survives into its record.
 * (Exported for the restore's quick lines, whose normalized rules must share this shape.)
 */
export const Draft = function (this: RuleDraft, via: Via) { this.via = via; } as unknown as new (via: Via) => RuleDraft;
Draft.prototype = Object.prototype;

/**
 * What a backend checks itself: the fields only it has (tc's dev, nft's hook, …). The backend
 * registry (backends/index.ts) is built from these; `normalizeRule` (normalize.ts) picks one.
 */
export interface RuleFields<V extends Via = Via> {
  /** the backend's registry key (backends/index.ts checks that each entry names its own key) */
  readonly via: V;
  /** input fields beyond SHARED_FIELDS that this backend takes */
  readonly fields: readonly (keyof MarkRuleInput)[];
  /** true when a rule without `via` is this backend's (tc: when dev is given); the registry asks in order */
  implied?(input: MarkRuleInput): boolean;
  /** true when the backend takes address lists (`src: [...]`) */
  readonly addressLists?: boolean;
  /** check and copy this backend's fields into the draft (shared fields are already in it) */
  normalize(input: MarkRuleInput, out: RuleDraft): void;
  /**
   * true when a port may be given without proto: tc's u32 `match ip dport N 0xffff` compares the
   * 16 bits at the transport offset of any packet, whatever its protocol, and tc accepts it alone
   */
  readonly portsWithoutProto?: boolean;
}

/**
 * Validate and normalize input for one backend. Throws PktmarkError naming the field; never
 * returns a half-checked rule. Callers with user input use normalizeRule (which also chooses the
 * backend); decoders use this with their own backend's fields.
 */
export function normalizeWith(spec: RuleFields, input: MarkRuleInput): MarkRule {
  if (input === null || typeof input !== 'object') fail('INVALID_ARGUMENT', 'rule', 'a rule must be an object');
  for (const k of Object.keys(input)) {
    if (!SHARED_FIELD_SET.has(k) && !(spec.fields as readonly string[]).includes(k)) fail('INVALID_OPTION', k, `unknown rule field ${JSON.stringify(k)} for via ${JSON.stringify(spec.via)}`);
  }
  return normalizeFields(spec, input);
}

/**
 * normalizeWith after its key check: for normalizeRule, which has checked every key against
 * the same backend already. Written for bulk input (an add of 10,000 or 200,000 rules, most of
 * it run before the JIT has optimised anything): straight-line field checks, no per-rule arrays,
 * iterators, closures or intermediate objects. The properties go in in the same order as always
 * (JSON output and equality of rules keep it).
 */
export function normalizeFields(spec: RuleFields, input: MarkRuleInput): MarkRule {
  let family = parseFamily(input.family);
  const out = new Draft(spec.via);
  if (input.src !== undefined) family = addressField(spec, input.src, 'src', family, out);
  if (input.dst !== undefined) family = addressField(spec, input.dst, 'dst', family, out);
  if (family) out.family = family;

  if (input.proto !== undefined) {
    const p = parseProto(input.proto);
    if (p === 1 && family === 'ip6') fail('FAMILY_MISMATCH', 'proto', 'icmp is IPv4; use icmpv6 with family ip6');
    if (p === 58 && family === 'ip') fail('FAMILY_MISMATCH', 'proto', 'icmpv6 is IPv6; use icmp with family ip');
    out.proto = p;
  }
  if (input.sport !== undefined) portField(spec, input.sport, 'sport', out);
  if (input.dport !== undefined) portField(spec, input.dport, 'dport', out);

  spec.normalize(input, out);

  // a connmark or jump statement leaves the packet mark alone: (old & ~0) ^ 0 (the backend checked no mark was given)
  if (out.connmark !== undefined || out.jump !== undefined) {
    out.mark = 0 as Mark;
    out.mask = 0 as Mask;
  } else if (typeof input.mark === 'number' && input.mask === undefined && Number.isInteger(input.mark) && input.mark >= 0 && input.mark <= 0xffffffff) {
    // the bulk case, a whole mark as a number: what parseMarkSpec returns for it, without its object
    out.mark = input.mark as Mark;
    out.mask = FULL_MASK;
  } else {
    const m = parseMarkSpec(input.mark, input.mask, input.xor === true);
    out.mark = m.mark;
    out.mask = m.mask;
    if (m.xor) out.xor = true;
  }
  if (input.rate !== undefined) out.rate = parseRate(input.rate, input.burst);
  else if (input.burst !== undefined) fail('INVALID_OPTION', 'burst', 'burst needs rate', "add rate: '1/second'");

  if (input.markMatch !== undefined) out.markMatch = parseMarkValueMatch(input.markMatch, 'markMatch');
  if (input.ctmarkMatch !== undefined) out.ctmarkMatch = parseMarkValueMatch(input.ctmarkMatch, 'ctmarkMatch');

  if (input.comment !== undefined) {
    if (typeof input.comment !== 'string') fail('INVALID_COMMENT', 'comment', 'comment must be a string');
    if (input.comment.includes('\0')) fail('INVALID_COMMENT', 'comment', 'comment must not contain a NUL byte');
    const n = new TextEncoder().encode(input.comment).length;
    if (n > MAX_COMMENT_BYTES) fail('INVALID_COMMENT', 'comment', `comment is ${n} bytes; at most ${MAX_COMMENT_BYTES}`);
    out.comment = input.comment;
  }
  return out as MarkRule;
}

/** src or dst (f) into the draft: one address, or a list (nft sets); returns the rule's family so far. */
function addressField(spec: RuleFields, v: string | readonly string[], f: 'src' | 'dst', family: Family | undefined, out: RuleDraft): Family | undefined {
  if (Array.isArray(v)) {
    if (!spec.addressLists) fail('INVALID_OPTION', f, `an address list in ${f} needs via nft (it becomes an nft set); via ${JSON.stringify(spec.via)} takes one address`);
    const l = parseAddressList(v, f);
    if (family && !l.families.includes(family)) fail('FAMILY_MISMATCH', f, `${f} holds no ${family === 'ip' ? 'IPv4' : 'IPv6'} entry but the rule's family is ${family}`);
    if (family && l.families.length > 1) fail('FAMILY_MISMATCH', f, `${f} mixes IPv4 and IPv6 but the rule's family is ${family}`);
    const other = f === 'dst' ? out.srcList : undefined;
    if (other && other.families.join() !== l.families.join()) fail('FAMILY_MISMATCH', f, `src and dst lists must hold the same families (src: ${other.families.join(', ')}; dst: ${l.families.join(', ')})`);
    if (f === 'src') out.srcList = l; else out.dstList = l;
    return l.families.length === 1 ? l.families[0] : family;
  }
  const a = parseAddressMatch(v, f);
  if (f === 'dst' && out.srcList && out.srcList.families.length > 1) fail('FAMILY_MISMATCH', f, `dst ${String(v)} is one family but the src list mixes IPv4 and IPv6`);
  if (family && a.family !== family) fail('FAMILY_MISMATCH', f, `${f} ${String(v)} is ${a.family === 'ip' ? 'IPv4' : 'IPv6'} but the rule's family is ${family}`);
  if (f === 'src') out.src = a; else out.dst = a;
  return a.family;
}

/** sport or dport (f) into the draft: one port stays a number, anything else is a PortMatch in sports/dports. */
function portField(spec: RuleFields, v: PortInput, f: 'sport' | 'dport', out: RuleDraft): void {
  const port = parsePortField(v, f);
  if ((out.proto === undefined && !spec.portsWithoutProto) || (out.proto !== undefined && !PORT_PROTOCOLS.has(out.proto))) {
    fail('PORT_WITHOUT_PROTO', f, `${f} needs proto tcp, udp, sctp or udplite`, `add proto: 'tcp' (iptables: -p tcp)`);
  }
  if (typeof port === 'number') out[f] = port;
  else if (f === 'sport') out.sports = port;
  else out.dports = port;
}

/** Mark as users write it: 0xdeadbeef, or 0x10/0xf0. */
export function formatMark(r: Pick<MarkRule, 'mark' | 'mask'>): string {
  const v = `0x${r.mark.toString(16)}`;
  return r.mask === FULL_MASK ? v : `${v}/0x${r.mask.toString(16)}`;
}
