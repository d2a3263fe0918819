/**
 * The desired rules as the kernel would dump them, so that apply's read of its table recognises
 * each rule it would send unchanged from the dump's bytes, without decoding its expressions into
 * objects and those back into a MarkRule. That decode is nearly all of the time of a full read
 * of an unchanged 10,000-rule table, which every `pktmark apply -f` run and every agent resync
 * after another writer's commit does.
 *
 * A dumped rule is "known" when its chain, its expression list (counter aside, nests unflagged:
 * codecs/nftables/rule-bytes.ts) and its userdata are exactly what apply writes for one desired
 * rule. Decoding those bytes would give that rule back (the round trip the codec tests hold),
 * so the record is made from the desired rule itself. Anything else (another writer's rule, one
 * that changed, a shape whose bytes the kernel rewrites, such as a port list's anonymous set) is
 * decoded in full as before. Rules are found by a hash of those bytes and confirmed byte by byte.
 */
import { WriterPool, type AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_REQUEST } from '../../codecs/netlink/message.js';
import { NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { clearNestedFlags, findCounter, newCounterSpan, newRuleParts, ruleParts } from '../../codecs/nftables/rule-bytes.js';
import { chainOf } from '../backends/nft/chains.js';
import { ruleId } from '../backends/nft/ids.js';
import { needsSet } from '../backends/nft/port-sets.js';
import { RuleEncoder } from '../backends/nft/template.js';
import type { DesiredRule } from './desired.js';
import { applyUserdata, withoutComment } from './batch.js';
import { ruleKey } from './diff.js';
import type { CurrentRule } from './state.js';

/** the desired rules' NEWRULEs are written here one after another (the template encoder reads back what it wrote), then the buffer is reused */
let scratch = new WriterPool();

/**
 * Let the scratch buffer go (an agent giving memory back when idle): it is as large as the last
 * table read (~4 MB for 10,000 rules) and is only reused by the next read, which then faults a
 * fresh one in.
 */
export function dropKnownRulesScratch(): void { scratch = new WriterPool(); }

const NLMSG_HDRLEN = 16;
const enc = new TextEncoder();

/**
 * FNV-1a, continuing from `h`. The expression list goes by 32-bit words: netlink attributes are
 * 4-aligned, so are the list and its counter element, and a word loop is a quarter of the work
 * of a byte loop (most of it runs before the JIT has optimised anything, in a fresh CLI process).
 */
function fnvWords(h: number, w: Uint32Array, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ w[i], 0x01000193);
  return h;
}
function fnvBytes(h: number, b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h;
}
/** a part's length, mixed in after it, so that parts cannot run into each other */
const mix = (h: number, n: number): number => Math.imul(h ^ n, 0x01000193);
const FNV_BASIS = 0x811c9dc5 | 0;

function same<T extends Uint8Array | Uint32Array>(a: T, af: number, b: T, bf: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[af + i] !== b[bf + i]) return false;
  return true;
}
/** are all four offsets 4-aligned (no array per call: this runs per dumped rule) */
const aligned = (a: number, b: number, c: number, d: number): boolean => ((a | b | c | d) & 3) === 0;

const NO_USERDATA = new Uint8Array(0);

export class KnownRules {
  /** per known rule: its expressions (counter cut out, nests unflagged) from word `at`, then its chain and userdata bytes */
  private store = new Uint8Array(0);
  private words = new Uint32Array(0);
  private used = 0;
  /** per known rule: `at` (in words) and [expression words, chain bytes, userdata bytes] */
  private readonly at: number[] = [];
  private readonly lens: number[] = [];
  private readonly rules: (DesiredRule | null)[] = [];
  /** hash → the last known rule with it; `next` chains the earlier ones (rare: a hash collision) */
  private readonly byHash = new Map<number, number>();
  private readonly next: number[] = [];
  private readonly table: Uint8Array;
  private readonly chainBytes = new Map<string, Uint8Array>();
  // reused per match: no objects per dumped rule
  private readonly parts = newRuleParts();
  private readonly counter = newCounterSpan();
  private lastBuffer: ArrayBufferLike | undefined;
  private lastBytes: Uint8Array = new Uint8Array(0);
  private lastWords: Uint32Array = new Uint32Array(0);
  private lastView: DataView = new DataView(new ArrayBuffer(0));

  constructor(desired: readonly DesiredRule[], table: string) {
    this.table = enc.encode(table);
    this.grow(1024 + desired.length * 320);
    const encoder = new RuleEncoder();
    const type = nftType(NFT_MSG_NEWRULE);
    const w = scratch.take(1024 + desired.length * 400);
    try {
      for (const d of desired) {
        // a stand-in mark is not what the kernel holds; a port list's set is named by the kernel
        if (d.autoMask !== undefined || d.rule.via !== 'nft' || needsSet(d.rule.sports) || needsSet(d.rule.dports)) continue;
        if (!this.learn(encoder, w, d, table, type)) break;
      }
    } finally {
      scratch.give(w);
    }
  }

  /** Views over the whole buffer being read (a receive buffer holds many rules; the writer's changes only when it grows). */
  private over(buffer: ArrayBufferLike): void {
    if (buffer === this.lastBuffer) return;
    this.lastBuffer = buffer;
    this.lastBytes = new Uint8Array(buffer);
    this.lastWords = new Uint32Array(buffer, 0, buffer.byteLength >> 2);
    this.lastView = new DataView(buffer);
  }

  /** Encode `d` as apply sends it, keep its parts as a dump would show them; false once the writer has failed (its error is sticky). */
  private learn(encoder: RuleEncoder, w: AttributeWriter, d: DesiredRule, table: string, type: number): boolean {
    const start = w.length;
    let written: Uint8Array;
    try {
      encoder.write(w, withoutComment(d.rule), table, NLM_F_REQUEST, 0, type);
      written = w.finish();
    } catch {
      return false; // not encodable here: this rule and the rest are read the long way
    }
    // offsets into the writer's whole buffer, as match's are into a receive buffer's
    this.over(written.buffer);
    const bytes = this.lastBytes, view = this.lastView;
    const p = this.parts, c = this.counter;
    if (!ruleParts(bytes, view, written.byteOffset + start + NLMSG_HDRLEN, written.byteOffset + written.length, p)) return true;
    if (!clearNestedFlags(view, p.exprsFrom, p.exprsTo) || !findCounter(bytes, view, p.exprsFrom, p.exprsTo, c)) return true;
    if (!aligned(p.exprsFrom, c.from, c.to, p.exprsTo)) return true;
    const name = chainOf(d.rule);
    let chain = this.chainBytes.get(name);
    if (!chain) this.chainBytes.set(name, chain = enc.encode(name));
    const ud = applyUserdata(d) ?? NO_USERDATA;
    const exBytes = (c.from - p.exprsFrom) + (p.exprsTo - c.to);
    const total = (exBytes + chain.length + ud.length + 3) & ~3;
    if (this.used + total > this.store.length) this.grow(Math.max(this.store.length * 2, this.used + total));
    const s = this.store, at = this.used;
    s.set(bytes.subarray(p.exprsFrom, c.from), at);
    s.set(bytes.subarray(c.to, p.exprsTo), at + (c.from - p.exprsFrom));
    s.set(chain, at + exBytes);
    s.set(ud, at + exBytes + chain.length);
    const k = this.rules.length;
    const lens = [exBytes >> 2, chain.length, ud.length] as const;
    const h = this.hashStored(at >> 2, lens);
    const found = this.find(h, this.words, at >> 2, lens[0], 0, 0, s, at + exBytes, s, at + exBytes + chain.length, lens[1], lens[2]);
    if (found >= 0) {
      // the same bytes twice: fine when they are the same rule (two equal unnamed rules), else neither is known
      const had = this.rules[found];
      if (had && (ruleKey(had.rule) !== ruleKey(d.rule) || had.name !== d.name)) this.rules[found] = null;
      s.fill(0, at, at + total);
      return true;
    }
    this.used += total;
    this.rules.push(d);
    this.at.push(at >> 2);
    this.lens.push(...lens);
    this.next.push(this.byHash.get(h) ?? -1);
    this.byHash.set(h, k);
    return true;
  }

  private grow(size: number): void {
    const next = new Uint8Array((size + 3) & ~3);
    next.set(this.store.subarray(0, this.used));
    this.store = next;
    this.words = new Uint32Array(next.buffer);
  }

  private hashStored(at: number, [ex, cl, ul]: readonly [number, number, number]): number {
    const s = this.store, b = (at + ex) << 2;
    return mix(fnvBytes(mix(fnvBytes(mix(fnvWords(FNV_BASIS, this.words, at, at + ex), ex), s, b, b + cl), cl), s, b + cl, b + cl + ul), ul);
  }

  /**
   * The known rule whose expressions are words [e1, e1+l1) then [e2, e2+l2) of `ew`, whose chain
   * is `cl` bytes from `cf` of `cb`, and whose userdata is `ul` bytes from `uf` of `ub`; -1 when none.
   */
  private find(h: number, ew: Uint32Array, e1: number, l1: number, e2: number, l2: number, cb: Uint8Array, cf: number, ub: Uint8Array, uf: number, cl: number, ul: number): number {
    const s = this.store, sw = this.words;
    for (let k = this.byHash.get(h) ?? -1; k >= 0; k = this.next[k]) {
      const at = this.at[k], ex = this.lens[3 * k], chainLen = this.lens[3 * k + 1], udLen = this.lens[3 * k + 2];
      if (ex !== l1 + l2 || chainLen !== cl || udLen !== ul) continue;
      const b = (at + ex) << 2;
      if (same(sw, at, ew, e1, l1) && same(sw, at + l1, ew, e2, l2) && same(s, b, cb, cf, cl) && same(s, b + cl, ub, uf, ul)) return k;
    }
    return -1;
  }

  /** The record of a dumped NEWRULE (its payload) that is one of the desired rules, else undefined. */
  match(payload: Uint8Array): CurrentRule | undefined {
    this.over(payload.buffer);
    const b = this.lastBytes, view = this.lastView, p = this.parts, c = this.counter;
    const from = payload.byteOffset;
    if (!ruleParts(b, view, from, from + payload.length, p) || p.handle === undefined) return undefined;
    if (p.tableTo - p.tableFrom !== this.table.length || !same(b, p.tableFrom, this.table, 0, this.table.length)) return undefined;
    if (!findCounter(b, view, p.exprsFrom, p.exprsTo, c) || !aligned(p.exprsFrom, c.from, c.to, p.exprsTo)) return undefined;
    // the expression words hashed as one part across the cut, as they are stored
    const w = this.lastWords, e1 = p.exprsFrom >> 2, l1 = (c.from - p.exprsFrom) >> 2, e2 = c.to >> 2, l2 = (p.exprsTo - c.to) >> 2;
    const cl = p.chainTo - p.chainFrom, ul = p.udTo - p.udFrom;
    const h = mix(fnvBytes(mix(fnvBytes(mix(fnvWords(fnvWords(FNV_BASIS, w, e1, e1 + l1), w, e2, e2 + l2), l1 + l2), b, p.chainFrom, p.chainTo), cl), b, p.udFrom, p.udTo), ul);
    const k = this.find(h, w, e1, l1, e2, l2, b, p.chainFrom, b, p.udFrom, cl, ul);
    const d = k >= 0 ? this.rules[k] : null;
    if (!d) return undefined;
    const chain = chainOf(d.rule);
    return {
      chain, handle: p.handle, id: ruleId(chain, p.handle), managed: true, packets: c.packets, bytes: c.bytes,
      rule: d.rule, ...(d.name !== undefined ? { name: d.name } : {}),
    };
  }
}
