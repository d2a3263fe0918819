/**
 * Request checks for tests against a fake kernel: assert a request's type, flags and
 * attributes, with a message that says what differed. Throws a plain Error (a test failure),
 * never a PktmarkError.
 */
import { AttributeReader } from '../../codecs/netlink/attributes.js';
import type { NetlinkMessage } from '../../codecs/netlink/message.js';

export interface RequestExpectation {
  readonly type?: number;
  /** every one of these flag bits set */
  readonly flags?: number;
  /** none of these flag bits set */
  readonly notFlags?: number;
  /** bytes of the family header before the attributes (nfgenmsg 4, tcmsg 20, ifinfomsg 16) */
  readonly headerLen?: number;
  /** top-level attribute types that must be present (NLA_F_NESTED stripped), or type → exact payload */
  readonly attrs?: readonly number[] | Readonly<Record<number, Uint8Array>>;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export function checkRequest(m: NetlinkMessage, e: RequestExpectation): void {
  const fail = (why: string): never => { throw new Error(`request seq ${m.header.seq} (type ${m.header.type}, flags 0x${m.header.flags.toString(16)}): ${why}`); };
  if (e.type !== undefined && m.header.type !== e.type) fail(`type is ${m.header.type}, expected ${e.type}`);
  if (e.flags !== undefined && (m.header.flags & e.flags) !== e.flags) fail(`flags lack 0x${(e.flags & ~m.header.flags).toString(16)}`);
  if (e.notFlags !== undefined && m.header.flags & e.notFlags) fail(`flags have 0x${(m.header.flags & e.notFlags).toString(16)}, expected none of them`);
  if (e.attrs === undefined) return;
  const found = new Map<number, Uint8Array>();
  for (const a of new AttributeReader(m.payload.subarray(e.headerLen ?? 4))) found.set(a.type, a.data);
  const want: [number, Uint8Array | undefined][] = Array.isArray(e.attrs)
    ? (e.attrs as readonly number[]).map((t) => [t, undefined])
    : Object.entries(e.attrs).map(([t, v]) => [Number(t), v as Uint8Array]);
  for (const [t, v] of want) {
    const got = found.get(t);
    if (got === undefined) fail(`attribute ${t} is missing (has ${[...found.keys()].join(', ') || 'none'})`);
    else if (v !== undefined && hex(got) !== hex(v)) fail(`attribute ${t} is ${hex(got)}, expected ${hex(v)}`);
  }
}
