/**
 * Bulk encoding of NEWRULE messages. Rules that differ only in their addresses — the usual bulk
 * case, one mark for thousands of sources — share one encoded message: the first rule of a shape
 * goes through the expression codecs, later ones copy its bytes and patch the sequence number,
 * flags and address bytes. Each template checks its patch points against what the codecs wrote
 * when it is made; if they do not line up (a codec layout the shortcut does not know), the shape
 * is marked unpatchable and every such rule is encoded in full. Output is byte-identical either way
 * (test/unit/nft-template.test.ts).
 */
import { addressBytes, canonicalIPv4 } from '../../../codecs/address.js';
import type { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { writeRule, type ExprSpan } from '../../../codecs/nftables/messages.js';
import { FULL_MASK, type MarkRule } from '../../rule.js';
import { HOST_LITTLE_ENDIAN } from '../../../codecs/netlink/struct.js';
import { ruleToExprs, type RuleField } from './rule.js';
import type { RuleSetIds } from './address-sets.js';
import { chainOf } from './chains.js';
import { NFPROTO_INET } from '../../../codecs/nftables/messages.js';

interface Patch { readonly field: 'src' | 'dst' | 'mark'; readonly at: number; readonly len: number }
interface Template {
  readonly bytes: Uint8Array;
  readonly patches: readonly Patch[];
  /**
   * The bulk case's patches as numbers: where a whole IPv4 src, a whole IPv4 dst and a whole mark
   * go (-1: none), and whether `patches` holds nothing else. A 10,000-rule add then patches each
   * rule without walking the patch list.
   */
  readonly src4: number;
  readonly dst4: number;
  readonly markAt: number;
  readonly simple: boolean;
  readonly spans: readonly ExprSpan[];
  readonly fields: readonly RuleField[];
}
/** iptables-restore -c: the counter's first values */
export interface StartCounter { readonly packets: bigint; readonly bytes: bigint }
export interface WrittenRule { readonly spans: readonly ExprSpan[]; readonly fields: readonly RuleField[] }

const MAX_SHAPES = 256;

/**
 * A whole mark (`meta mark set V`) is an immediate's value, patched like an address: an
 * iptables-restore file gives every line its own mark, and one template per mark would be a
 * template per rule. A masked or xor mark is folded into a bitwise, part of the shape.
 */
const patchableMark = (r: MarkRule): boolean => r.mask === FULL_MASK && !r.xor && r.connmark === undefined && r.jump === undefined;
const markShape = (r: MarkRule): string => (patchableMark(r) ? '*' : String(r.mark));

/** Everything that decides a rule's bytes except the address values (and a whole mark's value). */
function shapeKey(r: MarkRule, table: string): string {
  const a = (m: MarkRule['src']): string => (m ? `${m.family}/${m.prefix}${m.netmask ?? ''}${m.negate ? '!' : ''}` : '');
  const p = (m: object | undefined): string => (m ? JSON.stringify(m) : '');
  const rate = r.rate ? `${r.rate.rate}/${r.rate.unit}/${r.rate.burst}` : '';
  return `${table}|${r.hook ?? ''}|${r.table ?? ''}|${r.family ?? ''}|${a(r.src)}|${a(r.dst)}|${r.iif ?? ''}|${r.oif ?? ''}|${r.proto ?? ''}|${r.sport ?? ''}|${r.dport ?? ''}|${p(r.sports)}|${p(r.dports)}|${markShape(r)}|${r.mask}|${r.xor ? 1 : 0}|${rate}|${p(r.markMatch)}|${p(r.ctmarkMatch)}|${p(r.connmark)}|${r.chain ?? ''}|${r.jump ?? ''}|${r.comment ?? ''}`;
}

const sameAddressShape = (a: MarkRule['src'], b: MarkRule['src']): boolean =>
  a === b || (a !== undefined && b !== undefined && a.family === b.family && a.prefix === b.prefix && a.negate === b.negate && a.netmask === b.netmask);
const samePorts = (a: MarkRule['sports'], b: MarkRule['sports']): boolean =>
  a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
const sameRate = (a: MarkRule['rate'], b: MarkRule['rate']): boolean =>
  a === b || (a !== undefined && b !== undefined && a.rate === b.rate && a.unit === b.unit && a.burst === b.burst);

/** JSON.stringify(a) === JSON.stringify(b), without stringifying when both are absent (the usual case) or the same object. */
const sameJson = (a: object | undefined, b: object | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));

/** shapeKey(a) === shapeKey(b), without building strings: bulk input is usually runs of one shape. */
function sameShape(a: MarkRule, b: MarkRule): boolean {
  return a.hook === b.hook && a.table === b.table && a.family === b.family && sameAddressShape(a.src, b.src) && sameAddressShape(a.dst, b.dst)
    && a.iif === b.iif && a.oif === b.oif && a.proto === b.proto && a.sport === b.sport && a.dport === b.dport
    && samePorts(a.sports, b.sports) && samePorts(a.dports, b.dports)
    && sameJson(a.markMatch, b.markMatch) && sameJson(a.ctmarkMatch, b.ctmarkMatch)
    && a.mask === b.mask && a.xor === b.xor && (a.mark === b.mark || (patchableMark(a) && patchableMark(b))) && sameRate(a.rate, b.rate) && a.comment === b.comment
    && a.chain === b.chain && a.jump === b.jump && (a.connmark === b.connmark || JSON.stringify(a.connmark) === JSON.stringify(b.connmark));
}

export class RuleEncoder {
  private readonly shapes = new Map<string, Template | null>();
  // the previous rule and its template, kept in fields (not a fresh object per rule)
  private lastRule: MarkRule | undefined;
  private lastTable = '';
  private lastTemplate: Template | null = null;

  /** Append the NEWRULE message for `rule` to `w`. */
  write(w: AttributeWriter, rule: MarkRule, table: string, flags: number, seq: number, msgType: number, position?: bigint, setIds?: RuleSetIds, counter?: StartCounter): WrittenRule {
    // inserts are one-off placements, a port list's set id and a restored counter differ per rule: encoded in full, never templated
    if (position !== undefined || setIds !== undefined || counter !== undefined) return this.full(w, rule, table, flags, seq, msgType, position, setIds, counter);
    let t: Template | null | undefined;
    // a run of one shape keeps its first rule as the one compared with (sameShape is an equivalence)
    if (this.lastRule !== undefined && this.lastTable === table && sameShape(this.lastRule, rule)) t = this.lastTemplate;
    else {
      t = this.shapes.get(shapeKey(rule, table));
      if (t !== undefined) this.remember(rule, table, t);
    }
    if (t === undefined) {
      const start = w.length;
      const written = this.full(w, rule, table, flags, seq, msgType);
      t = makeTemplate(w.finish().subarray(start), rule, written);
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      this.shapes.set(shapeKey(rule, table), t);
      this.remember(rule, table, t);
      return written;
    }
    if (t === null) return this.full(w, rule, table, flags, seq, msgType);
    const at = w.reserve(t.bytes.length);
    w.patchBytes(at, t.bytes);
    w.patchU16(at + 6, flags);
    w.patchU32(at + 8, seq);
    if (t.simple) {
      const s = t.src4 >= 0 ? canonicalIPv4(rule.src!.address) : 0;
      const d = t.dst4 >= 0 ? canonicalIPv4(rule.dst!.address) : 0;
      if (s >= 0 && d >= 0) {
        if (t.src4 >= 0) w.patchU32(at + t.src4, s, 'be');
        if (t.dst4 >= 0) w.patchU32(at + t.dst4, d, 'be');
        if (t.markAt >= 0) w.patchU32(at + t.markAt, rule.mark, 'host');
        return t;
      }
    }
    const patches = t.patches;
    for (let k = 0; k < patches.length; k++) {
      const p = patches[k];
      if (p.field === 'mark') { w.patchU32(at + p.at, rule.mark, 'host'); continue; }
      // named loads, not rule[p.field]: a keyed load with a changing key is slow on this path
      const a = p.field === 'src' ? rule.src! : rule.dst!;
      // a whole IPv4 address is one big-endian u32: no parse into a fresh array, no copy
      const v4 = p.len === 4 && a.family === 'ip' ? canonicalIPv4(a.address) : -1;
      if (v4 >= 0) { w.patchU32(at + p.at, v4, 'be'); continue; }
      const b = addressBytes(a);
      w.patchBytes(at + p.at, p.len === b.length ? b : b.subarray(0, p.len));
    }
    return t;
  }

  private remember(rule: MarkRule, table: string, t: Template | null): void {
    this.lastRule = rule;
    this.lastTable = table;
    this.lastTemplate = t;
  }

  private full(w: AttributeWriter, rule: MarkRule, table: string, flags: number, seq: number, msgType: number, position?: bigint, setIds?: RuleSetIds, counter?: StartCounter): WrittenRule {
    const tagged = ruleToExprs(rule, setIds, counter);
    const spans: ExprSpan[] = [];
    writeRule(w, msgType, flags, seq, {
      family: NFPROTO_INET, table, chain: chainOf(rule), exprs: tagged.map((x) => x.expr),
      ...(position !== undefined ? { position } : {}),
      ...(rule.comment !== undefined ? { comment: rule.comment } : {}),
    }, spans);
    return { spans, fields: tagged.map((x) => x.field) };
  }
}

/**
 * An address compare's value is the last attribute of its expression (NFTA_CMP_DATA ›
 * NFTA_DATA_VALUE), so it ends where the expression ends, less padding.
 */
function makeTemplate(bytes: Uint8Array, rule: MarkRule, written: WrittenRule): Template | null {
  const patches: Patch[] = [];
  for (const field of ['src', 'dst'] as const) {
    const m = rule[field];
    if (!m) continue;
    const idx = written.fields.lastIndexOf(field);
    const span = written.spans.find((s) => s.index === idx);
    if (!span) return null;
    const value = addressBytes(m);
    const len = m.netmask === undefined && m.prefix % 8 === 0 && m.prefix > 0 ? m.prefix / 8 : value.length;
    const at = span.end - ((len + 3) & ~3);
    for (let i = 0; i < len; i++) if (bytes[at + i] !== value[i]) return null;
    patches.push({ field, at, len });
  }
  if (patchableMark(rule)) {
    // the immediate (the first 'mark' expression) ends with NFTA_IMMEDIATE_DATA › NFTA_DATA_VALUE, 4 bytes host order
    const span = written.spans.find((s) => s.index === written.fields.indexOf('mark'));
    if (!span) return null;
    const at = span.end - 4;
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint32(at, HOST_LITTLE_ENDIAN) !== rule.mark >>> 0) return null;
    patches.push({ field: 'mark', at, len: 4 });
  }
  const at = (field: Patch['field']): number => { const p = patches.find((x) => x.field === field && (field === 'mark' || (x.len === 4 && rule[field]!.family === 'ip'))); return p ? p.at : -1; };
  const src4 = at('src'), dst4 = at('dst'), markAt = at('mark');
  const simple = patches.length === (src4 >= 0 ? 1 : 0) + (dst4 >= 0 ? 1 : 0) + (markAt >= 0 ? 1 : 0);
  return { bytes: bytes.slice(), patches, src4, dst4, markAt, simple, spans: written.spans, fields: written.fields };
}
