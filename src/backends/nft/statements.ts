/**
 * The rule statements besides `meta mark set`: CONNMARK (connmark.ts's arithmetic) and the
 * verdicts of user-defined chains, both ways. Native expressions where they say it exactly, as
 * nft 1.0.6 sends them (fixtures/nft/connmark-*.json, chain-*.json):
 *   set V/M            ct mark set ct mark and ~M xor V   (ct load, one bitwise, ct set; M full: immediate V)
 *   save, ctmask full  ct mark set meta mark [and NF]     (meta load, [bitwise], ct set)
 *   restore, nfmask full meta mark set ct mark [and CT]   (ct load, [bitwise], meta set)
 * with a shift `<< N` / `>> N` after the mask (nft 1.0.6 sends bitwise LSHIFT/RSHIFT, DATA = N).
 * A masked copy that keeps bits of the destination needs a second register: the destination's
 * kept bits are loaded into NFT_REG_2, masked, and xor-ed in with Linux 6.13's two-register
 * bitwise (NFT_BITWISE_XOR, NFTA_BITWISE_SREG2) — exactly xt_CONNMARK's arithmetic. The xt
 * compat target, which iptables-nft uses in its `ip` tables, is not an option: nft_compat finds
 * no CONNMARK for the inet family (the kernel answers ENOENT). Never an approximation.
 */
import { isBoolBitwise, NFT_BITWISE_BOOL, NFT_BITWISE_LSHIFT, NFT_BITWISE_RSHIFT, NFT_BITWISE_XOR, type Bitwise, type BitwiseOp } from '../../../codecs/nftables/expr/bitwise.js';
import { NFT_CT_MARK } from '../../../codecs/nftables/expr/ct.js';
import type { Expr } from '../../../codecs/nftables/expr/index.js';
import { NFT_META_MARK } from '../../../codecs/nftables/expr/meta.js';
import { NFT_REG_1, NFT_REG_VERDICT } from '../../../codecs/nftables/expr/types.js';
import { HOST_LITTLE_ENDIAN } from '../../../codecs/netlink/struct.js';
import type { ConnmarkStatement, MarkShift } from '../../connmark.js';
import { userChainNft, userChainOf } from './chains.js';
import type { XtTable } from '../../rule.js';

const r1 = NFT_REG_1;
/** the second 16-byte register (enum nft_registers NFT_REG_2) */
const r2 = 2;
const FULL = 0xffffffff;
/** linux/netfilter/nf_tables.h enum nft_verdicts */
export const NFT_JUMP = -3;
export const NFT_RETURN = -5;

function hostU32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, HOST_LITTLE_ENDIAN);
  return b;
}
const readHostU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, HOST_LITTLE_ENDIAN);

const ctLoad: Expr = { kind: 'ct', key: NFT_CT_MARK, dreg: r1 };
const ctSet: Expr = { kind: 'ct', key: NFT_CT_MARK, sreg: r1 };
const metaLoad: Expr = { kind: 'meta', key: NFT_META_MARK, dreg: r1 };
const metaSet: Expr = { kind: 'meta', key: NFT_META_MARK, sreg: r1 };
/** nft sends NFTA_BITWISE_OP (bool) for mark arithmetic (strace of nft 1.0.6) */
const and = (mask: number, xor = 0): Bitwise => ({ kind: 'bitwise', sreg: r1, dreg: r1, op: NFT_BITWISE_BOOL, len: 4, mask: hostU32(mask), xor: hostU32(xor) });

/** True when one register says the statement (nft 1.0.6 has text for these): the destination keeps no bits. */
export function connmarkOneRegister(c: ConnmarkStatement): boolean {
  return c.op === 'set' || (c.op === 'save' ? c.ctmask : c.nfmask) === FULL;
}

const shiftExpr = (s: MarkShift): BitwiseOp =>
  ({ kind: 'bitwise', sreg: r1, dreg: r1, len: 4, op: s.dir === 'left' ? NFT_BITWISE_LSHIFT : NFT_BITWISE_RSHIFT, data: hostU32(s.bits) });

export function connmarkExprs(c: ConnmarkStatement): Expr[] {
  if (c.op === 'set') return c.mask === FULL ? [{ kind: 'immediate', dreg: r1, value: hostU32(c.value) }, ctSet] : [ctLoad, and(~c.mask >>> 0, c.value), ctSet];
  // the copied bits: source & srcmask, shifted
  const [load, store, srcMask, keepMask] = c.op === 'save' ? [metaLoad, ctSet, c.nfmask, c.ctmask] : [ctLoad, metaSet, c.ctmask, c.nfmask];
  const out: Expr[] = [load];
  if (srcMask !== FULL) out.push(and(srcMask));
  if (c.shift) out.push(shiftExpr(c.shift));
  if (keepMask !== FULL) {
    // the destination's other bits, in a second register, xor-ed in (Linux 6.13+ two-register bitwise)
    const destLoad: Expr = c.op === 'save' ? { kind: 'ct', key: NFT_CT_MARK, dreg: r2 } : { kind: 'meta', key: NFT_META_MARK, dreg: r2 };
    out.push(destLoad, { ...and(~keepMask >>> 0), sreg: r2, dreg: r2 }, { kind: 'bitwise', sreg: r1, sreg2: r2, dreg: r1, len: 4, op: NFT_BITWISE_XOR });
  }
  out.push(store);
  return out;
}

/** A jump to a user chain of `table`, or a return. */
export function jumpExprs(jump: string, table: XtTable): Expr[] {
  const verdict = jump === 'RETURN' ? { code: NFT_RETURN } : { code: NFT_JUMP, chain: userChainNft(table, jump) };
  return [{ kind: 'immediate', dreg: NFT_REG_VERDICT, verdict }];
}

// ---------------------------------------------------------------------------------------------
// decoding: each returns the statement and how many expressions it took, or undefined

const isCt = (e: Expr | undefined, reg: number, load: boolean): boolean => e?.kind === 'ct' && e.key === NFT_CT_MARK && e.direction === undefined && (load ? e.dreg === reg : e.sreg === reg);
const isMeta = (e: Expr | undefined, reg: number, load: boolean): boolean => e?.kind === 'meta' && e.key === NFT_META_MARK && (load ? e.dreg === reg : e.sreg === reg);
const bool4 = (e: Expr | undefined, reg: number): e is Bitwise => isBoolBitwise(e) && e.sreg === reg && e.dreg === reg && e.len === 4 && e.mask.length === 4 && e.xor.length === 4 && (e.op === undefined || e.op === NFT_BITWISE_BOOL);

export function decodeConnmark(xs: readonly Expr[], i: number): { c: ConnmarkStatement; n: number } | undefined {
  const [a, b, s] = [xs[i], xs[i + 1], xs[i + 2]];
  if (a?.kind === 'immediate' && a.dreg === r1 && a.value?.length === 4 && isCt(b, r1, false)) return { c: { op: 'set', value: readHostU32(a.value), mask: FULL }, n: 2 };
  if (isCt(a, r1, true) && bool4(b, r1) && isCt(s, r1, false)) return { c: { op: 'set', value: readHostU32(b.xor), mask: ~readHostU32(b.mask) >>> 0 }, n: 3 };
  // a copy: source load, [& srcmask], [shift], [destination & ~keep in r2, xor-ed in], destination store
  const op = isMeta(a, r1, true) ? 'save' : isCt(a, r1, true) ? 'restore' : undefined;
  if (!op) return undefined;
  const isDest = op === 'save' ? isCt : isMeta;
  let k = i + 1;
  let src = FULL;
  let keep = FULL;
  let shift: MarkShift | undefined;
  const m = xs[k];
  if (bool4(m, r1) && readHostU32(m.xor) === 0) { src = readHostU32(m.mask); k++; }
  const sh = xs[k];
  if (sh?.kind === 'bitwise' && sh.data !== undefined && sh.sreg === r1 && sh.dreg === r1 && sh.len === 4 && sh.data.length === 4) {
    const bits = readHostU32(sh.data);
    if (bits < 1 || bits > 31) return undefined;
    shift = { dir: sh.op === NFT_BITWISE_LSHIFT ? 'left' : 'right', bits };
    k++;
  }
  const [dl, dm, x] = [xs[k], xs[k + 1], xs[k + 2]];
  if (isDest(dl, r2, true) && bool4(dm, r2) && readHostU32(dm.xor) === 0
      && x?.kind === 'bitwise' && x.op === NFT_BITWISE_XOR && x.sreg === r1 && x.sreg2 === r2 && x.dreg === r1 && x.len === 4) {
    keep = ~readHostU32(dm.mask) >>> 0;
    if (keep === FULL) return undefined; // pktmark writes a full keep mask as one register
    k += 3;
  }
  if (!isDest(xs[k], r1, false)) return undefined;
  const [nfmask, ctmask] = op === 'save' ? [src, keep] : [keep, src];
  return { c: { op, nfmask, ctmask, ...(shift ? { shift } : {}) }, n: k + 1 - i };
}

/** `jump TABLE.NAME` to a user chain of the rule's own table, or `return`. */
export function decodeJump(e: Expr | undefined, table: XtTable): string | undefined {
  if (e?.kind !== 'immediate' || e.dreg !== NFT_REG_VERDICT || !e.verdict) return undefined;
  if (e.verdict.code === NFT_RETURN && e.verdict.chain === undefined) return 'RETURN';
  if (e.verdict.code !== NFT_JUMP || e.verdict.chain === undefined) return undefined;
  const u = userChainOf(e.verdict.chain);
  return u && u.table === table ? u.name : undefined;
}
