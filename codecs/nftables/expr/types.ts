import type { Attribute, AttributeReader, AttributeWriter } from '../../netlink/attributes.js';

/** linux/netfilter/nf_tables.h: enum nft_registers — nft 1.0.6 still uses the 16-byte NFT_REG_1. */
export const NFT_REG_VERDICT = 0;
export const NFT_REG_1 = 1;

/** enum nft_data_attributes / nft_verdict_attributes */
export const NFTA_DATA_VALUE = 1;
export const NFTA_DATA_VERDICT = 2;
export const NFTA_VERDICT_CODE = 1;
export const NFTA_VERDICT_CHAIN = 2;

/**
 * One nftables expression: its kernel name and both directions. `encode` writes the attributes
 * that go inside NFTA_EXPR_DATA; `decode` reads them back. A decoder that meets an attribute or a
 * mode it does not model throws `Unmodeled`, and the registry keeps the expression as raw bytes.
 */
export interface ExprCodec<E extends { readonly kind: string }> {
  /** the kernel's expression name, which is also the model's `kind` */
  readonly name: E['kind'];
  encode(e: E, w: AttributeWriter): void;
  decode(attrs: AttributeReader): E;
}

/** Thrown by a decoder for well-formed bytes it does not model (not a decode error). */
export class Unmodeled extends Error {
  constructor(what: string) { super(what); this.name = 'Unmodeled'; }
}

/** An expression kept as the kernel sent it: its name and the NFTA_EXPR_DATA payload. */
export interface RawExpr {
  readonly kind: 'raw';
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Every attribute of a run, each type at most once, unknown types → Unmodeled. */
export function attrTable(r: AttributeReader, known: readonly number[], what: string): Map<number, Attribute> {
  const m = new Map<number, Attribute>();
  for (const a of r) {
    if (!known.includes(a.type)) throw new Unmodeled(`${what}: attribute ${a.type}`);
    if (m.has(a.type)) throw new Unmodeled(`${what}: attribute ${a.type} twice`);
    m.set(a.type, a);
  }
  return m;
}

export function required(m: Map<number, Attribute>, type: number, what: string): Attribute {
  const a = m.get(type);
  if (!a) throw new Unmodeled(`${what}: attribute ${type} missing`);
  return a;
}
