/**
 * Rendering: the readable table of `list`, and the JSON shapes documented in README-json.md.
 * The JSON field names are part of pktmark's interface: change them only additively.
 */
import type { RuleRecord } from '../backends/backend.js';
import { BACKENDS, type Via } from '../backends/index.js';
import { formatMark, protocolName, type AddressList, type AddressMatch, type ConnmarkStatement, type Mark, type MarkRule, type Mask } from '../rule.js';
import { safeField } from '../terminal-text.js';
import { formatPortMatch } from '../ports.js';
import { ipftArgsOrNull } from '../ipft.js';

/** The version of the --json shapes (README-json.md says what changed in each). */
export const JSON_VERSION = 3;

/** The `--json` document for a list of rules: always versioned, so a reader can tell the shapes apart. */
export const rulesJson = (records: readonly RuleRecord[]): { version: number; rules: RuleJson[] } =>
  ({ version: JSON_VERSION, rules: records.map(ruleJson) });

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** One rule as JSON: every key always present (null when unused), so consumers see one shape. */
export interface RuleJson {
  id: string;
  via: Via;
  decoded: boolean;
  family: 'ip' | 'ip6' | null;
  hook: 'prerouting' | 'output' | null;
  dev: string | null;
  direction: 'ingress' | 'egress' | null;
  prio: number | null;
  src: string | null;
  dst: string | null;
  /** an address list (nft set): its canonical entries, families, and which families are interval sets */
  srcList: AddressList | null;
  dstList: AddressList | null;
  proto: string | null;
  /** one port as a number; ranges, lists and negation as text (`1024-65535`, `80,443`, `!53`) */
  sport: number | string | null;
  dport: number | string | null;
  iif: string | null;
  oif: string | null;
  mark: string | null;
  mask: string | null;
  xor: boolean;
  rate: string | null;
  burst: number | null;
  comment: string | null;
  /** nft: the CONNMARK statement (then mark and mask are "0x0": the packet mark is left alone) */
  connmark: { op: 'set'; value: string; mask: string } | { op: 'save' | 'restore'; nfmask: string; ctmask: string; shift: { dir: 'left' | 'right'; bits: number } | null } | null;
  /** nft: the user-defined chain the rule is in (null: a hook's chain) */
  chain: string | null;
  /** nft: the user-defined chain the rule jumps to, or "RETURN" (then mark and mask are "0x0") */
  jump: string | null;
  packets: number;
  bytes: number;
  text: string;
  raw: { name: string; hex: string }[];
  /** the ipftrace2 arguments tracing this rule's packets (`-m 0x… --mask 0x…`), null for xor rules, mark 0, undecoded rules */
  ipft: readonly string[] | null;
}

export const addressText = (a: AddressMatch | undefined): string | null =>
  a === undefined ? null : `${a.negate ? '!' : ''}${a.address}/${a.netmask ?? a.prefix}`;

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export function ruleJson(rec: RuleRecord): RuleJson {
  const r: Partial<MarkRule> = rec.rule ?? {};
  return {
    id: rec.id,
    via: rec.via,
    decoded: rec.rule !== undefined,
    family: r.family ?? null,
    hook: r.hook ?? null,
    dev: r.dev ?? null,
    direction: r.direction ?? null,
    prio: r.prio ?? null,
    src: addressText(r.src),
    dst: addressText(r.dst),
    srcList: r.srcList ?? null,
    dstList: r.dstList ?? null,
    proto: r.proto === undefined ? null : protocolName(r.proto),
    sport: r.sport ?? (r.sports ? formatPortMatch(r.sports) : null),
    dport: r.dport ?? (r.dports ? formatPortMatch(r.dports) : null),
    iif: r.iif ?? null,
    oif: r.oif ?? null,
    mark: r.mark === undefined ? null : hex32(r.mark),
    mask: r.mask === undefined ? null : hex32(r.mask),
    xor: r.xor === true,
    rate: r.rate ? `${r.rate.rate}/${r.rate.unit}` : null,
    burst: r.rate ? r.rate.burst : null,
    comment: r.comment ?? null,
    connmark: r.connmark === undefined ? null : r.connmark.op === 'set'
      ? { op: 'set', value: hex32(r.connmark.value), mask: hex32(r.connmark.mask) }
      : { op: r.connmark.op, nfmask: hex32(r.connmark.nfmask), ctmask: hex32(r.connmark.ctmask), shift: r.connmark.shift ?? null },
    chain: r.chain ?? null,
    jump: r.jump ?? null,
    packets: rec.packets,
    bytes: rec.bytes,
    text: rec.text,
    raw: (rec.raw ?? []).map((p) => ({ name: p.name, hex: hex(p.bytes) })),
    ipft: ipftArgsOrNull(rec.rule),
  };
}

/** A list in the MATCH column: its first entries and how many more (the whole list is in --json). */
function listText(l: AddressList): string {
  const head = l.entries.slice(0, 3).join(',');
  return `{${head}${l.entries.length > 3 ? `,…+${l.entries.length - 3}` : ''}}`;
}

/** The MATCH column: what the rule selects, in pktmark's option words. */
export function matchText(r: MarkRule): string {
  const parts: string[] = [];
  parts.push(BACKENDS[r.via].where(r));
  if (r.family && !r.src && !r.dst && !r.srcList && !r.dstList) parts.push(r.family);
  if (r.src) parts.push(`src ${addressText(r.src)!.replace(/\/(32|128)$/, '')}`);
  if (r.srcList) parts.push(`src ${listText(r.srcList)}`);
  if (r.dst) parts.push(`dst ${addressText(r.dst)!.replace(/\/(32|128)$/, '')}`);
  if (r.dstList) parts.push(`dst ${listText(r.dstList)}`);
  if (r.proto !== undefined) parts.push(protocolName(r.proto));
  if (r.sport !== undefined) parts.push(`sport ${r.sport}`);
  if (r.sports) parts.push(`sport ${formatPortMatch(r.sports)}`);
  if (r.dport !== undefined) parts.push(`dport ${r.dport}`);
  if (r.dports) parts.push(`dport ${formatPortMatch(r.dports)}`);
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.oif) parts.push(`oif ${r.oif}`);
  return parts.join(' ');
}

export function markText(r: MarkRule): string {
  if (r.connmark) return connmarkText(r.connmark);
  if (r.jump !== undefined) return r.jump === 'RETURN' ? 'return' : `jump ${r.jump}`;
  return r.xor ? `xor ${formatMark(r)}` : formatMark(r);
}

/** A CONNMARK statement in a few words: `ctmark 0x5/0xff`, `save 0xff→0xff00`, `restore 0xff00→0xff >>8` (source mask → destination mask). */
function connmarkText(c: ConnmarkStatement): string {
  if (c.op === 'set') return `ctmark ${formatMark({ mark: c.value as Mark, mask: c.mask as Mask })}`;
  const [from, to] = c.op === 'save' ? [c.nfmask, c.ctmask] : [c.ctmask, c.nfmask];
  const full = from === 0xffffffff && to === 0xffffffff;
  return `${c.op}${full ? '' : ` ${hex32(from)}→${hex32(to)}`}${c.shift ? ` ${c.shift.dir === 'left' ? '<<' : '>>'}${c.shift.bits}` : ''}`;
}

/**
 * Columns padded to their widest cell; the last column is not padded. Cells are escaped first
 * (a tab or newline in a comment or a kernel name would otherwise break the columns), and
 * widths are measured on what is printed.
 */
export function table(header: readonly string[], cells: readonly (readonly string[])[]): string[] {
  const rows = cells.map((r) => r.map(safeField));
  const widths = columnWidths(header, rows);
  return [padRow(header, widths), ...rows.map((r) => padRow(r, widths))];
}

/** Cells padded to the widths, two spaces apart; the last cell is not padded. */
const padRow = (cells: readonly string[], widths: readonly number[]): string =>
  cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
const columnWidths = (header: readonly string[], rows: readonly (readonly string[])[]): number[] =>
  header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));

const RULE_HEADER = ['ID', 'VIA', 'MATCH', 'MARK', 'RATE', 'PACKETS', 'BYTES', 'COMMENT'] as const;

function ruleRow(rec: RuleRecord): string[] {
  const r = rec.rule;
  return [
    rec.id, rec.via,
    r ? matchText(r) : `(not decoded) ${rec.text}`,
    r ? markText(r) : '-',
    r?.rate ? `${r.rate.rate}/${r.rate.unit} burst ${r.rate.burst}` : '-',
    String(rec.packets), String(rec.bytes),
    r?.comment ?? '',
  ];
}

export function ruleTable(records: readonly RuleRecord[]): string[] {
  return table(RULE_HEADER, records.map(ruleRow));
}

/** Rows held back to size the columns before the first line is printed. */
const TABLE_LOOKAHEAD = 256;

/**
 * `ruleTable` for a stream: columns are sized from the first TABLE_LOOKAHEAD rows and only
 * widen later (a longer cell pushes its line, never the ones already printed), so a
 * 100,000-rule list prints as it is read. Returns how many rules were printed.
 */
export async function streamRuleTable(records: AsyncIterable<RuleRecord>, out: (line: string) => void): Promise<number> {
  const held: string[][] = [];
  let widths: number[] | undefined;
  let n = 0;
  const line = (cells: readonly string[]): string => padRow(cells, widths!);
  const flush = (): void => {
    widths = columnWidths(RULE_HEADER, held);
    out(line(RULE_HEADER));
    for (const r of held) out(line(r));
    held.length = 0;
  };
  for await (const rec of records) {
    n++;
    // cells escaped as table() does: a tab or escape read back from the kernel cannot move a column
    const row = ruleRow(rec).map(safeField);
    if (widths) out(line(row));
    else { held.push(row); if (held.length === TABLE_LOOKAHEAD) flush(); }
  }
  if (!widths) flush();
  return n;
}
