import { decodeError } from '../../errors.js';
import { nestedReader, type Attribute, type AttributeWriter } from '../../netlink/attributes.js';
import { NFTA_DATA_VALUE, Unmodeled } from './types.js';

/** struct nft_data as a value: NFTA_DATA_VALUE inside a nest (cmp data, bitwise mask/xor, immediate). */
export function writeDataValue(w: AttributeWriter, type: number, value: Uint8Array): void {
  w.nested(type, (w) => w.bytes(NFTA_DATA_VALUE, value));
}

export function readDataValue(a: Attribute, what: string): Uint8Array {
  let value: Uint8Array | undefined;
  for (const d of nestedReader(a)) {
    if (d.type !== NFTA_DATA_VALUE || value) throw new Unmodeled(`${what}: data attribute ${d.type}`);
    value = d.data.slice();
  }
  if (!value) throw decodeError(`${what}: empty data`, a.offset);
  return value;
}
