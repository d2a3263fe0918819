import type { AttributeReader, AttributeWriter } from '../../netlink/attributes.js';
import { u32, type U32Options } from './u32.js';

/** Options of a classifier kind pktmark does not decode (bpf, flower, matchall …): kept whole. */
export interface RawClassifierOptions {
  readonly kind: 'raw';
  readonly name: string;
  readonly data: Uint8Array;
}
export type ClassifierOptions = U32Options | RawClassifierOptions;

interface ClassifierCodec<O> { readonly kind: string; encode(o: O, w: AttributeWriter): void; decode(r: AttributeReader): O }

/** Registry: the kernel's classifier name (TCA_KIND) → codec. */
const CODECS: ReadonlyMap<string, ClassifierCodec<U32Options>> = new Map([[u32.kind, u32]]);

export const classifierKind = (o: ClassifierOptions): string => (o.kind === 'raw' ? o.name : o.kind);

export function encodeClassifier(o: ClassifierOptions, w: AttributeWriter): void {
  if (o.kind === 'raw') { w.raw(o.data); return; }
  CODECS.get(o.kind)!.encode(o, w);
}

export function decodeClassifier(kind: string, r: AttributeReader, data: Uint8Array): ClassifierOptions {
  const c = CODECS.get(kind);
  return c ? c.decode(r) : { kind: 'raw', name: kind, data: data.slice() };
}
export { u32 };
