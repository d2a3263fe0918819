/**
 * The one way a codec walks a run of attributes, in the shape of mdlayher/netlink's
 * AttributeDecoder: iterate the types, read the current attribute with a typed getter, `keep()`
 * what the codec does not model (into `extra`, re-encoded byte for byte), and check once at the
 * end. Errors are sticky: the first bad length, short struct or missing attribute is recorded,
 * iteration stops, the getters return a zero value, and `finish()` throws it. A codec therefore
 * has no try/catch and no half-filled result escapes: `finish()` comes before `return`.
 */
import { decodeError, PktmarkError } from '../errors.js';
import { attr, nestedReader, type Attribute, type AttributeReader } from './attributes.js';
import { rawOf, type RawAttr } from './raw.js';
import type { ByteOrder, Struct } from './struct.js';

export class AttributeDecoder implements Iterable<number> {
  /** what the codec passed to `keep()`, in kernel order */
  readonly extra: RawAttr[] = [];
  private current: Attribute | undefined;
  private failure: PktmarkError | undefined;

  constructor(private readonly reader: AttributeReader) {}

  /** Where the run starts in the outermost buffer (for errors about the run as a whole). */
  get base(): number { return this.reader.base; }
  /** The first error, if any. */
  get error(): PktmarkError | undefined { return this.failure; }
  /** The attribute under the cursor (its offset, nested flag and raw payload). */
  get attribute(): Attribute {
    if (!this.current) throw new PktmarkError('DECODE', 'AttributeDecoder read outside iteration');
    return this.current;
  }

  /** The attribute types, in order; ends early at the first error. */
  *[Symbol.iterator](): Iterator<number> {
    if (this.failure) return;
    const it = this.reader[Symbol.iterator]();
    for (;;) {
      let step: IteratorResult<Attribute>;
      try { step = it.next(); } catch (e) { this.record(e); break; }
      if (step.done) break;
      this.current = step.value;
      yield step.value.type;
      if (this.failure) break;
    }
    this.current = undefined;
  }

  u8(): number { return this.read((a) => attr.u8(a), 0); }
  u16(order: ByteOrder = 'host'): number { return this.read((a) => attr.u16(a, order), 0); }
  u32(order: ByteOrder = 'host'): number { return this.read((a) => attr.u32(a, order), 0); }
  i32(order: ByteOrder = 'host'): number { return this.read((a) => attr.i32(a, order), 0); }
  u64(order: ByteOrder = 'host'): bigint { return this.read((a) => attr.u64(a, order), 0n); }
  string(): string { return this.read((a) => attr.string(a), ''); }
  /** A copy of the payload. */
  bytes(): Uint8Array { return this.read((a) => attr.bytes(a), new Uint8Array(0)); }
  struct<T>(s: Struct<T>): T | undefined { return this.read((a) => attr.struct(a, s), undefined); }
  /** Decode the payload with a function of the bytes and their absolute offset. */
  payload<T>(decode: (data: Uint8Array, offset: number) => T): T | undefined {
    return this.read((a) => decode(a.data, a.offset), undefined);
  }
  /** Decode a nested run with another codec; its error becomes this decoder's error. */
  nested<T>(decode: (r: AttributeReader) => T): T | undefined {
    return this.read((a) => decode(nestedReader(a)), undefined);
  }
  /** Keep the current attribute unmodelled, as the kernel sent it. */
  keep(): void {
    if (this.current) this.extra.push(rawOf(this.current));
  }

  /** Record a DECODE error unless `value` is present (a required attribute). */
  require<T>(value: T | undefined, message: string): value is T {
    if (value !== undefined) return true;
    if (!this.failure) this.failure = decodeError(message, this.reader.base);
    return false;
  }
  /** Throw the first error; call it before returning what was decoded. */
  finish(): void {
    if (this.failure) throw this.failure;
  }

  private read<T, F>(get: (a: Attribute) => T, fallback: F): T | F {
    if (this.failure || !this.current) return fallback;
    try { return get(this.current); } catch (e) { this.record(e); return fallback; }
  }
  private record(e: unknown): void {
    if (this.failure) return;
    // anything else is a bug in a codec, not bad input: let it surface as itself
    if (!(e instanceof PktmarkError)) throw e;
    this.failure = e;
  }
}

/** Fields of a readonly model, writable while a decoder fills them in. */
export type Draft<T> = { -readonly [K in keyof T]: T[K] };
