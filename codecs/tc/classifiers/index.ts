/**
 * The classifier registry (the kernel's tcf_proto_ops list by TCA_KIND): one codec per kind, and
 * the option types derived from the table, so a new classifier is one file and one line here.
 */
import type { AttributeReader, AttributeWriter } from '../../netlink/attributes.js';
import { u32, type U32Options } from './u32.js';
import { bpf, type BpfClsOptions } from './bpf.js';

/** Options of a classifier kind pktmark does not decode (flower, matchall …): kept whole. */
export interface RawClassifierOptions {
  readonly kind: 'raw';
  readonly name: string;
  readonly data: Uint8Array;
}

/** One classifier: its TCA_KIND and its TCA_OPTIONS both ways. */
interface ClassifierCodec<O extends { readonly kind: string }> { readonly kind: O['kind']; encode(o: O, w: AttributeWriter): void; decode(r: AttributeReader): O }

const CLASSIFIERS = { u32, bpf } as const;
// each entry is a codec of its own kind (a compile-time check, no runtime cost)
CLASSIFIERS satisfies { readonly [K in keyof typeof CLASSIFIERS]: ClassifierCodec<ReturnType<(typeof CLASSIFIERS)[K]['decode']>> };

type Codecs = typeof CLASSIFIERS;
/** the decoded options of each registered kind, by kind */
export type KnownClassifierOptions = { [K in keyof Codecs]: ReturnType<Codecs[K]['decode']> }[keyof Codecs];
export type ClassifierOptions = KnownClassifierOptions | RawClassifierOptions;
export type ClassifierKind = keyof Codecs;

const isKnown = (kind: string): kind is ClassifierKind => Object.prototype.hasOwnProperty.call(CLASSIFIERS, kind);

export const classifierKind = (o: ClassifierOptions): string => (o.kind === 'raw' ? o.name : o.kind);

export function encodeClassifier(o: ClassifierOptions, w: AttributeWriter): void {
  if (o.kind === 'raw') { w.raw(o.data); return; }
  // each codec takes its own kind's options: the union is narrowed by `kind`
  (CLASSIFIERS[o.kind].encode as (o: KnownClassifierOptions, w: AttributeWriter) => void)(o, w);
}

export function decodeClassifier(kind: string, r: AttributeReader, data: Uint8Array): ClassifierOptions {
  return isKnown(kind) ? CLASSIFIERS[kind].decode(r) : { kind: 'raw', name: kind, data: data.slice() };
}
export { u32, bpf };
export type { U32Options, BpfClsOptions };
