import type { AttributeWriter, Attribute } from './attributes.js';
import { NLA_F_NESTED } from './attributes.js';

/** An attribute pktmark does not model, kept as the kernel sent it (never dropped). */
export interface RawAttr {
  readonly type: number;
  readonly nested: boolean;
  readonly data: Uint8Array;
}

export const rawOf = (a: Attribute): RawAttr => ({ type: a.type, nested: a.nested, data: a.data.slice() });

export function writeRaw(w: AttributeWriter, a: RawAttr): void {
  w.bytes(a.nested ? a.type | NLA_F_NESTED : a.type, a.data);
}
