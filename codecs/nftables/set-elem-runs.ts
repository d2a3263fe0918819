/**
 * Where an element list is cut into NEWSETELEM messages, as libnftnl cuts it (see splitSetElems in
 * set-elems.ts): shared by the element-object path and the packed path, which must cut alike.
 */
import { NLA_HDRLEN } from '../netlink/attributes.js';

/** One message's share of `count` elements: [from, to), numbered from `firstIndex`. */
export interface ElemRun { readonly from: number; readonly to: number; readonly firstIndex: number }

/** The cuts of splitSetElems for elements of the given sizes (the packed path uses it too). */
export function splitRuns(count: number, sizeOf: (i: number) => number, maxNest: number): ElemRun[] {
  const parts: ElemRun[] = [];
  let start = 0, index = 1, firstIndex = 1, size = NLA_HDRLEN;
  for (let i = 0; i < count; i++) {
    const n = sizeOf(i);
    if (size + n > maxNest) {
      parts.push({ from: start, to: i, firstIndex });
      start = i;
      index++; // the number libnftnl spent on the element that overflowed
      firstIndex = index;
      size = NLA_HDRLEN;
    }
    size += n;
    index++;
  }
  parts.push({ from: start, to: count, firstIndex });
  return parts;
}
