import { decodeError, PktmarkError } from '../errors.js';
import { HOST_LITTLE_ENDIAN, type ByteOrder, type Struct } from './struct.js';

/** linux/netlink.h */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;
export const NLA_HDRLEN = 4;
export const align4 = (n: number): number => (n + 3) & ~3;

const textEncoder = new TextEncoder();
// Names (tables, chains, expression kinds) repeat in every message of a batch; encoding them
// once keeps a 10,000-rule batch from running TextEncoder 100,000 times.
const stringCache = new Map<string, Uint8Array>();
function encodeString(s: string): Uint8Array {
  let b = stringCache.get(s);
  if (b === undefined) {
    b = textEncoder.encode(s);
    if (s.length <= 32 && stringCache.size < 1024) stringCache.set(s, b);
  }
  return b;
}
const textDecoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Writes netlink messages and attributes into one growing buffer: a whole nftables batch of
 * 10,000 rules is encoded without a per-attribute allocation. Value errors are sticky (the first
 * one is kept and thrown by `finish()`), so encoders can write straight through like
 * mdlayher/netlink's AttributeEncoder and the caller checks once.
 */
export class AttributeWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private err: PktmarkError | undefined;

  /** `buffer`, if given, must be all zeros (see WriterPool); it is written from the start. */
  constructor(initialSize = 1024, buffer?: Uint8Array) {
    this.buf = buffer && buffer.length >= initialSize ? buffer : new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** The whole backing buffer, for WriterPool to zero and keep. */
  get backing(): Uint8Array { return this.buf; }

  get length(): number { return this.pos; }
  get error(): PktmarkError | undefined { return this.err; }

  fail(message: string, field?: string): void {
    if (!this.err) this.err = new PktmarkError('ENCODE', message, field === undefined ? {} : { field });
  }

  /** Room for `n` more bytes in one step: a 1.6 MB element list would otherwise regrow (and copy) the buffer a dozen times. */
  makeRoom(n: number): void { this.ensure(n); }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /**
   * Reserve `n` zeroed bytes (4-byte padded) and return their offset; fill with `patch*`.
   * The writer only moves forward and its buffers start zeroed, so reserved bytes (padding
   * included) are already zero: no fill needed on this hot path.
   */
  reserve(n: number): number {
    const padded = (n + 3) & ~3;
    if (this.pos + padded > this.buf.length) this.ensure(padded);
    const at = this.pos;
    this.pos += padded;
    return at;
  }
  patchU32(at: number, v: number, order: ByteOrder = 'host'): void { this.view.setUint32(at, v >>> 0, order === 'host' ? HOST_LITTLE_ENDIAN : false); }
  patchU16(at: number, v: number): void { this.view.setUint16(at, v, HOST_LITTLE_ENDIAN); }
  patchBytes(at: number, bytes: Uint8Array): void { this.buf.set(bytes, at); }

  struct<T>(s: Struct<T>, value: T): void {
    const at = this.reserve(s.size);
    s.write(this.view, at, value);
  }

  /** Raw bytes, padded to 4. */
  raw(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.buf.set(bytes, at);
  }

  private header(type: number, payloadLen: number): number {
    if (payloadLen + NLA_HDRLEN > 0xffff) {
      this.fail(`attribute ${type & NLA_TYPE_MASK} too long (${payloadLen} bytes)`);
    }
    const at = this.reserve(NLA_HDRLEN + payloadLen);
    this.view.setUint16(at, (NLA_HDRLEN + payloadLen) & 0xffff, HOST_LITTLE_ENDIAN);
    this.view.setUint16(at + 2, type, HOST_LITTLE_ENDIAN);
    return at + NLA_HDRLEN;
  }

  u8(type: number, v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) this.fail(`u8 attribute ${type} out of range: ${v}`);
    const at = this.header(type, 1);
    this.view.setUint8(at, v);
  }
  u16(type: number, v: number, order: ByteOrder = 'host'): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) this.fail(`u16 attribute ${type} out of range: ${v}`);
    const at = this.header(type, 2);
    this.view.setUint16(at, v, order === 'host' ? HOST_LITTLE_ENDIAN : false);
  }
  u32(type: number, v: number, order: ByteOrder = 'host'): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) this.fail(`u32 attribute ${type} out of range: ${v}`);
    const at = this.header(type, 4);
    this.view.setUint32(at, v >>> 0, order === 'host' ? HOST_LITTLE_ENDIAN : false);
  }
  i32(type: number, v: number, order: ByteOrder = 'host'): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) this.fail(`s32 attribute ${type} out of range: ${v}`);
    const at = this.header(type, 4);
    this.view.setInt32(at, v | 0, order === 'host' ? HOST_LITTLE_ENDIAN : false);
  }
  u64(type: number, v: bigint, order: ByteOrder = 'host'): void {
    if (v < 0n || v > 0xffffffffffffffffn) this.fail(`u64 attribute ${type} out of range: ${v}`);
    const at = this.header(type, 8);
    this.view.setBigUint64(at, BigInt.asUintN(64, v), order === 'host' ? HOST_LITTLE_ENDIAN : false);
  }
  /** NUL-terminated string, as the kernel's NLA_STRING / NLA_NUL_STRING policies expect. */
  string(type: number, s: string): void {
    const b = encodeString(s);
    const at = this.header(type, b.length + 1);
    this.buf.set(b, at);
    this.buf[at + b.length] = 0;
  }
  /** An attribute whose payload is fixed C structs, written in place (no intermediate buffer). */
  structs(type: number, parts: readonly StructPart[]): void {
    let len = 0;
    for (const p of parts) len += p.size;
    let at = this.header(type, len);
    for (const p of parts) { p.write(this.view, at); at += p.size; }
  }
  bytes(type: number, b: Uint8Array): void {
    const at = this.header(type, b.length);
    this.buf.set(b, at);
  }
  flag(type: number): void { this.header(type, 0); }

  /**
   * A nested attribute. `NLA_F_NESTED` is set by default because nfnetlink wants it on every
   * nest; rtnetlink (as iproute2 writes it) sets it only on TCA_ACT_OPTIONS, so tc passes false.
   */
  nested(type: number, fill: (w: this) => void, nestedFlag = true): void {
    const at = this.beginNested();
    fill(this);
    this.endNested(at, type, nestedFlag);
  }

  /** nested() in two calls, for encoders run once per message of a bulk batch (no closure each time): `const at = w.beginNested()`, the contents, `w.endNested(at, type)`. */
  beginNested(): number { return this.reserve(NLA_HDRLEN); }
  endNested(at: number, type: number, nestedFlag = true): void {
    const len = this.pos - at;
    if (len > 0xffff) this.fail(`nested attribute ${type} too long (${len} bytes)`);
    this.view.setUint16(at, len & 0xffff, HOST_LITTLE_ENDIAN);
    this.view.setUint16(at + 2, nestedFlag ? type | NLA_F_NESTED : type, HOST_LITTLE_ENDIAN);
  }

  /**
   * The bytes written so far, or the first recorded error. Not a copy: the writer only appends
   * (growing into a new buffer when full), so what it returned never changes afterwards.
   */
  finish(): Uint8Array {
    if (this.err) throw this.err;
    return this.buf.subarray(0, this.pos);
  }
}

/** One struct value ready to be written: see `structPart` and `AttributeWriter.structs`. */
export interface StructPart {
  readonly size: number;
  write(view: DataView, at: number): void;
}
export function structPart<T>(s: Struct<T>, value: T): StructPart {
  return { size: s.size, write: (view, at) => s.write(view, at, value) };
}

/**
 * Keeps one large zeroed buffer for writers that are done with their bytes once sent (an
 * nftables batch is copied by the kernel in sendmsg). Fresh memory costs a page fault per 4 KiB
 * on first touch — about 12 ms for a 10,000-rule batch here, several times the encoding
 * itself — while a reused buffer costs one memset. Single-owner: a writer taken while the
 * buffer is out gets fresh memory.
 */
export class WriterPool {
  private spare: Uint8Array | undefined;
  constructor(private readonly maxBytes = 64 << 20) {}

  take(size: number): AttributeWriter {
    const b = this.spare;
    if (b && b.length >= size) {
      this.spare = undefined;
      return new AttributeWriter(size, b);
    }
    return new AttributeWriter(size);
  }

  /** Give a writer's buffer back once nothing reads its bytes any more. */
  give(w: AttributeWriter): void {
    const b = w.backing;
    if (b.length > this.maxBytes || (this.spare && this.spare.length >= b.length)) return;
    b.fill(0, 0, w.length);
    this.spare = b;
  }
}

export interface Attribute {
  /** type without NLA_F_NESTED / NLA_F_NET_BYTEORDER */
  readonly type: number;
  readonly nested: boolean;
  /** payload (without header and padding) */
  readonly data: Uint8Array;
  /** absolute offset of the attribute header in the outermost buffer being decoded */
  readonly offset: number;
}

/**
 * Bounds-checked reader over a run of attributes. A length that runs past the end, or is below
 * the header size, is a DECODE error with the byte offset — never a DataView RangeError and never
 * a zero-length step that would loop forever.
 */
export class AttributeReader implements Iterable<Attribute> {
  /** `base`: where `bytes` starts in the outermost buffer, so errors carry absolute offsets */
  constructor(private readonly bytes: Uint8Array, readonly base = 0) {}

  *[Symbol.iterator](): Iterator<Attribute> {
    const b = this.bytes;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let p = 0;
    while (p < b.length) {
      if (b.length - p < NLA_HDRLEN) throw decodeError(`truncated attribute header (${b.length - p} bytes)`, this.base + p);
      const len = view.getUint16(p, HOST_LITTLE_ENDIAN);
      const rawType = view.getUint16(p + 2, HOST_LITTLE_ENDIAN);
      if (len < NLA_HDRLEN) throw decodeError(`attribute length ${len} below header size`, this.base + p);
      if (p + len > b.length) throw decodeError(`attribute length ${len} runs past the end (${b.length - p} left)`, this.base + p);
      yield {
        type: rawType & NLA_TYPE_MASK,
        nested: (rawType & NLA_F_NESTED) !== 0,
        data: b.subarray(p + NLA_HDRLEN, p + len),
        offset: this.base + p,
      };
      p += align4(len);
    }
  }

  /** All attributes, in order. */
  list(): Attribute[] { return [...this]; }
}

export function nestedReader(a: Attribute): AttributeReader {
  return new AttributeReader(a.data, a.offset + NLA_HDRLEN);
}

function need(a: Attribute, n: number, what: string): DataView {
  if (a.data.length !== n) throw decodeError(`attribute ${a.type}: ${what} needs ${n} bytes, has ${a.data.length}`, a.offset);
  return new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}
const le = (o: ByteOrder): boolean => (o === 'host' ? HOST_LITTLE_ENDIAN : false);

export const attr = {
  u8: (a: Attribute): number => need(a, 1, 'u8').getUint8(0),
  u16: (a: Attribute, o: ByteOrder = 'host'): number => need(a, 2, 'u16').getUint16(0, le(o)),
  u32: (a: Attribute, o: ByteOrder = 'host'): number => need(a, 4, 'u32').getUint32(0, le(o)),
  i32: (a: Attribute, o: ByteOrder = 'host'): number => need(a, 4, 's32').getInt32(0, le(o)),
  u64: (a: Attribute, o: ByteOrder = 'host'): bigint => need(a, 8, 'u64').getBigUint64(0, le(o)),
  /** Up to the first NUL (the kernel's strings are NUL-terminated; tolerate a missing one). */
  string: (a: Attribute): string => {
    const z = a.data.indexOf(0);
    return textDecoder.decode(z < 0 ? a.data : a.data.subarray(0, z));
  },
  bytes: (a: Attribute): Uint8Array => a.data.slice(),
  /** A fixed C struct payload; a short one is a DECODE error at the attribute's offset. */
  struct: <T>(a: Attribute, s: Struct<T>): T => {
    if (a.data.length < s.size) throw decodeError(`attribute ${a.type}: ${s.name} needs ${s.size} bytes, has ${a.data.length}`, a.offset);
    return s.decode(a.data);
  },
};
