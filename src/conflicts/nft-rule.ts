/**
 * What one nft rule does to marks, read from its expressions by following the registers the
 * way the kernel runs them: `meta mark` / `ct mark` loads, `bitwise` on them, `immediate`
 * constants, `lookup` results (maps), and the `meta mark set` / `ct mark set` and `cmp` / `lookup`
 * that consume them. iptables-nft's `match` / `target` compat expressions are read from their xt
 * info structs (codecs/nftables/xt-info.ts).
 */
import { exprData, exprName, type Expr } from '../../codecs/nftables/expr/index.js';
import { NFT_META_MARK } from '../../codecs/nftables/expr/meta.js';
import { NFT_CT_MARK } from '../../codecs/nftables/expr/ct.js';
import { NFT_BITWISE_BOOL } from '../../codecs/nftables/expr/bitwise.js';
import { decodeXtExpr, xtMarkUse, type XtMarkUse } from '../../codecs/nftables/xt-info.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import type { MarkAction } from './types.js';

const ALL = 0xffffffff;
export const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** One mark use inside a rule, before the scanner adds source and owner. */
export interface RuleMarkUse {
  readonly action: MarkAction;
  readonly on: 'packet' | 'conntrack';
  readonly bits: number;
  readonly values?: readonly number[];
  readonly whole?: true;
  /** the statement, in nft's words */
  readonly text: string;
  /** a map whose data elements are the values written (filled in by the scanner) */
  readonly map?: string;
}

type Reg =
  | { readonly k: 'const'; readonly value: number }
  | { readonly k: 'mark'; readonly from: 'meta' | 'ct'; readonly mask: number; readonly xor: number }
  | { readonly k: 'map'; readonly set: string }
  | { readonly k: 'other' };

/** nf_tables.h: the four 16-byte registers NFT_REG_1..4 alias the 32-bit NFT_REG32_00.. (8 …); keep one name per slot */
const slot = (r: number): number => (r >= 8 ? r : r === 0 ? 0 : (r - 1) * 4 + 8);
const u32 = (b: Uint8Array): number | undefined => (b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, HOST_LITTLE_ENDIAN) : undefined);
const name = (from: 'meta' | 'ct'): string => (from === 'meta' ? 'meta mark' : 'ct mark');
const on = (from: 'meta' | 'ct'): 'packet' | 'conntrack' => (from === 'meta' ? 'packet' : 'conntrack');

function written(target: 'meta' | 'ct', v: Reg | undefined): RuleMarkUse | undefined {
  const set = `${name(target)} set`;
  const where = on(target);
  if (!v || v.k === 'other') return { action: 'sets', on: where, bits: ALL, whole: true, text: `${set} <computed value>` };
  if (v.k === 'const') return { action: 'sets', on: where, bits: ALL, values: [v.value], whole: true, text: `${set} ${hex(v.value)}` };
  if (v.k === 'map') return { action: 'sets', on: where, bits: ALL, whole: true, text: `${set} … map @${v.set}`, map: v.set };
  // nft writes `or X` as mask ~X, xor X
  const or = v.xor !== 0 && ((~v.mask) >>> 0) === v.xor;
  const expr = or ? `${name(v.from)} or ${hex(v.xor)}` : `${name(v.from)}${v.mask !== ALL ? ` and ${hex(v.mask)}` : ''}${v.xor ? ` xor ${hex(v.xor)}` : ''}`;
  if (v.from !== target) {
    // a copy between the marks: every bit of the result is written, the mask narrows what is
    // copied; `on` is the packet's side either way (a save reads its bits, a restore writes them)
    return { action: target === 'meta' ? 'restores' : 'saves', on: 'packet', bits: v.mask, text: `${set} ${expr}` };
  }
  const changed = ((~v.mask) | v.xor) >>> 0;
  if (changed === 0) return undefined; // `meta mark set meta mark`: a no-op
  return v.xor
    ? { action: 'sets', on: where, bits: changed, values: [v.xor >>> 0], text: `${set} ${expr}` }
    : { action: 'masks', on: where, bits: changed, text: `${set} ${expr}` };
}

function compared(v: Reg | undefined, op: string, value: number | undefined): RuleMarkUse | undefined {
  if (!v || v.k !== 'mark') return undefined;
  const whole = v.mask === ALL;
  const text = `${name(v.from)}${whole ? '' : ` and ${hex(v.mask)}`} ${op}${value === undefined ? '' : ` ${hex(value)}`}`;
  return { action: 'matches', on: on(v.from), bits: v.mask, ...(value === undefined ? {} : { values: [value] }), ...(whole ? { whole: true as const } : {}), text };
}

/** The mark uses of an xt match or target (iptables-nft), in iptables' words. */
export function xtUses(u: XtMarkUse): RuleMarkUse[] {
  switch (u.kind) {
    case 'mark-target':
      return [u.mark === 0
        ? { action: 'masks', on: 'packet', bits: u.mask, text: `MARK --set-xmark 0x0/${hex(u.mask)}` }
        : { action: 'sets', on: 'packet', bits: (u.mask | u.mark) >>> 0, values: [u.mark], text: `MARK --set-xmark ${hex(u.mark)}/${hex(u.mask)}` }];
    case 'connmark-target':
      if (u.mode === 'set') return [{ action: 'sets', on: 'conntrack', bits: (u.ctmask | u.ctmark) >>> 0, values: [u.ctmark], text: `CONNMARK --set-xmark ${hex(u.ctmark)}/${hex(u.ctmask)}` }];
      if (u.mode === 'save') return [{ action: 'saves', on: 'packet', bits: u.nfmask, text: `CONNMARK --save-mark --nfmask ${hex(u.nfmask)} --ctmask ${hex(u.ctmask)}` }];
      return [{ action: 'restores', on: 'packet', bits: u.nfmask, text: `CONNMARK --restore-mark --nfmask ${hex(u.nfmask)} --ctmask ${hex(u.ctmask)}` }];
    case 'mark-match':
    case 'connmark-match':
      return [{
        action: 'matches', on: u.kind === 'mark-match' ? 'packet' : 'conntrack', bits: u.mask, values: [u.mark],
        ...(u.mask === ALL ? { whole: true as const } : {}),
        text: `-m ${u.kind === 'mark-match' ? 'mark' : 'connmark'} ${u.invert ? '! ' : ''}--mark ${hex(u.mark)}/${hex(u.mask)}`,
      }];
    case 'tproxy':
      return [{ action: 'sets', on: 'packet', bits: (u.mask | u.mark) >>> 0, values: [u.mark], text: `TPROXY --tproxy-mark ${hex(u.mark)}/${hex(u.mask)}` }];
    case 'hmark':
      return [{ action: 'sets', on: 'packet', bits: ALL, whole: true, text: `HMARK --hmark-mod ${u.modulus} --hmark-offset ${hex(u.offset)} (the whole mark: offset + hash % mod)` }];
    case 'socket-restore':
      return [{ action: 'restores', on: 'packet', bits: ALL, text: '-m socket --restore-skmark (the socket\'s whole SO_MARK)' }];
  }
}

const CMP_OPS = ['==', '!=', '<', '<=', '>', '>='];

/** Every mark use of one rule, in expression order. */
export function ruleMarkUses(exprs: readonly Expr[]): RuleMarkUse[] {
  const regs = new Map<number, Reg>();
  const out: RuleMarkUse[] = [];
  const push = (u: RuleMarkUse | undefined): void => { if (u) out.push(u); };
  for (const e of exprs) {
    switch (e.kind) {
      case 'meta':
      case 'ct': {
        const from = e.kind;
        const isMark = e.key === (from === 'meta' ? NFT_META_MARK : NFT_CT_MARK);
        if (e.dreg !== undefined) regs.set(slot(e.dreg), isMark ? { k: 'mark', from, mask: ALL, xor: 0 } : { k: 'other' });
        else if (isMark) push(written(from, regs.get(slot(e.sreg))));
        break;
      }
      case 'immediate':
        if (e.value) { const v = u32(e.value); regs.set(slot(e.dreg), v === undefined ? { k: 'other' } : { k: 'const', value: v }); }
        break;
      case 'bitwise': {
        const src = regs.get(slot(e.sreg));
        // two-register and shift forms (Linux 6.13's NFTA_BITWISE_SREG2/DATA) leave the register unknown
        const m = e.mask ? u32(e.mask) : undefined, x = e.xor ? u32(e.xor) : undefined;
        let r: Reg = { k: 'other' };
        if ((e.op ?? NFT_BITWISE_BOOL) === NFT_BITWISE_BOOL && m !== undefined && x !== undefined) {
          if (src?.k === 'mark') r = { k: 'mark', from: src.from, mask: (src.mask & m) >>> 0, xor: ((src.xor & m) ^ x) >>> 0 };
          else if (src?.k === 'const') r = { k: 'const', value: ((src.value & m) ^ x) >>> 0 };
        }
        regs.set(slot(e.dreg), r);
        break;
      }
      case 'cmp': {
        const src = regs.get(slot(e.sreg));
        const v = u32(e.data);
        push(compared(src, CMP_OPS[e.op] ?? `op${e.op}`, v === undefined || src?.k !== 'mark' ? v : (v & src.mask) >>> 0));
        break;
      }
      case 'lookup': {
        const src = regs.get(slot(e.sreg));
        if (src?.k === 'mark') push(compared(src, `${(e.flags ?? 0) & 1 ? '!=' : 'in'} @${e.set}`, undefined));
        if (e.dreg !== undefined && e.dreg !== 0) regs.set(slot(e.dreg), { k: 'map', set: e.set });
        break;
      }
      default: {
        const n = exprName(e);
        if (n === 'match' || n === 'target') {
          try {
            const u = xtMarkUse(n, decodeXtExpr(exprData(e)));
            if (u) out.push(...xtUses(u));
          } catch { /* a malformed xt payload touches no mark we can name */ }
        }
        // any other load (payload, a raw expression pktmark does not model) leaves its register unknown
        const d = (e as { dreg?: unknown }).dreg;
        if (typeof d === 'number') regs.set(slot(d), { k: 'other' });
      }
    }
  }
  return out;
}
