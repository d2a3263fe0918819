import { decodeError, PktmarkError } from '../../errors.js';
import { AttributeReader, AttributeWriter, attr, nestedReader, NLA_HDRLEN, type Attribute } from '../../netlink/attributes.js';
import { bitwise, type Bitwise, type BitwiseOp } from './bitwise.js';
import { cmp, type Cmp } from './cmp.js';
import { counter, type Counter } from './counter.js';
import { ct, type Ct } from './ct.js';
import { immediate, type Immediate } from './immediate.js';
import { limit, type Limit } from './limit.js';
import { lookup, type Lookup } from './lookup.js';
import { meta, type Meta } from './meta.js';
import { payload, type Payload } from './payload.js';
import { range, type Range } from './range.js';
import { target, type Target } from './target.js';
import { Unmodeled, type ExprCodec, type RawExpr } from './types.js';

export type { Bitwise, BitwiseOp, Cmp, Counter, Ct, Immediate, Limit, Lookup, Meta, Payload, Range, RawExpr, ExprCodec, Target };
export { Unmodeled };

/** The registry, by the kernel's expression name. Adding an expression = one file + one line here. */
const CODECS = { payload, meta, cmp, bitwise, immediate, limit, counter, lookup, range, ct, target } as const;
type Codecs = typeof CODECS;
type Known = { [K in keyof Codecs]: ReturnType<Codecs[K]['decode']> }[keyof Codecs];
// each entry is the codec of the kind its key names (a compile-time check, no runtime cost)
CODECS satisfies { readonly [K in keyof Codecs]: ExprCodec<Extract<Known, { readonly kind: K }>> };

/** Every expression pktmark models (derived from the registry), plus `raw` for the rest. */
export type Expr = Known | RawExpr;
export type ExprKind = keyof Codecs;

/** enum nft_list_attributes / nft_expr_attributes */
export const NFTA_LIST_ELEM = 1;
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;

/** The registry as a lookup by the name a kernel message carries. */
export const EXPRESSIONS: ReadonlyMap<string, ExprCodec<Known>> = new Map<string, ExprCodec<Known>>(
  (Object.values(CODECS) as unknown as ExprCodec<Known>[]).map((c) => [c.name, c]),
);

/** Kernel name of an expression: `kind` for modeled ones, `name` for raw ones. */
export function exprName(e: Expr): string { return e.kind === 'raw' ? e.name : e.kind; }

/** The NFTA_EXPR_DATA payload of an expression (for raw parts and tests). */
export function exprData(e: Expr): Uint8Array {
  if (e.kind === 'raw') return e.bytes.slice();
  const w = new AttributeWriter(64);
  EXPRESSIONS.get(e.kind)?.encode(e, w);
  return w.finish();
}

/** One NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA } as libnftnl writes it. */
export function encodeExpr(w: AttributeWriter, e: Expr): void {
  w.nested(NFTA_LIST_ELEM, (w) => {
    if (e.kind === 'raw') {
      w.string(NFTA_EXPR_NAME, e.name);
      w.nested(NFTA_EXPR_DATA, (w) => w.raw(e.bytes));
      return;
    }
    const codec = EXPRESSIONS.get(e.kind);
    if (!codec) { w.fail(`no codec for expression ${e.kind}`); return; }
    w.string(NFTA_EXPR_NAME, codec.name);
    w.nested(NFTA_EXPR_DATA, (w) => codec.encode(e, w));
  });
}

/** The parts of one NFTA_LIST_ELEM: name and data attribute (bounds-checked). */
export function exprParts(elem: Attribute): { name: string; data?: Attribute } {
  let name: string | undefined;
  let data: Attribute | undefined;
  for (const a of nestedReader(elem)) {
    if (a.type === NFTA_EXPR_NAME) name = attr.string(a);
    else if (a.type === NFTA_EXPR_DATA) data = a;
  }
  if (name === undefined) throw decodeError('expression without NFTA_EXPR_NAME', elem.offset);
  return data ? { name, data } : { name };
}

/**
 * Decode one NFTA_LIST_ELEM. Unknown expressions, and known ones in a form pktmark does not model,
 * come back as `{kind:'raw', name, bytes}` (bytes = the NFTA_EXPR_DATA payload), which
 * `encodeExpr` writes back unchanged. Malformed bytes throw PktmarkError DECODE with the offset.
 */
export function decodeExpr(elem: Attribute): Expr {
  if (elem.type !== NFTA_LIST_ELEM) throw decodeError(`expression list element has type ${elem.type}`, elem.offset);
  const { name, data } = exprParts(elem);
  const bytes = data ? data.data.slice() : new Uint8Array(0);
  const codec = EXPRESSIONS.get(name);
  if (!codec) return { kind: 'raw', name, bytes };
  const reader = data ? nestedReader(data) : new AttributeReader(new Uint8Array(0), elem.offset + NLA_HDRLEN);
  try {
    return codec.decode(reader);
  } catch (e) {
    if (e instanceof Unmodeled) return { kind: 'raw', name, bytes };
    if (e instanceof PktmarkError) throw e;
    throw decodeError(`expression ${name}: ${(e as Error).message}`, elem.offset);
  }
}

/** Decode an NFTA_RULE_EXPRESSIONS nest. */
export function decodeExprList(list: Attribute): Expr[] {
  return [...nestedReader(list)].map(decodeExpr);
}
