import { decodeError } from '../errors.js';

/**
 * Fixed C structs, declared once as a field list. Each field names its byte order because the
 * kernel mixes them: netlink headers are host order, while e.g. tc_u32_key's mask/val are
 * network order. `host` is little-endian on every platform koffi ships prebuilds for that we
 * support (x64, arm64); we still detect it instead of assuming.
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'pad';
export type ByteOrder = 'host' | 'be';
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly order?: ByteOrder;
  /** bytes, for `pad` */
  readonly size?: number;
}

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const SIZES: Record<Exclude<FieldType, 'pad'>, number> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8 };

export interface Struct<T> {
  readonly name: string;
  readonly size: number;
  write(view: DataView, offset: number, value: T): void;
  read(view: DataView, offset: number): T;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array, offset?: number): T;
}

type Num = number | bigint;

export function defineStruct<T extends { [K in keyof T]: Num }>(name: string, fields: readonly FieldSpec[]): Struct<T> {
  const layout: { spec: FieldSpec; at: number; le: boolean }[] = [];
  let size = 0;
  for (const f of fields) {
    const len = f.type === 'pad' ? (f.size ?? 0) : SIZES[f.type];
    layout.push({ spec: f, at: size, le: (f.order ?? 'host') === 'host' ? HOST_LITTLE_ENDIAN : false });
    size += len;
  }
  const s: Struct<T> = {
    name,
    size,
    write(view, offset, value) {
      for (const { spec, at, le } of layout) {
        const p = offset + at;
        const v = value[spec.name as keyof T] as Num | undefined;
        switch (spec.type) {
          case 'pad': break;
          case 'u8': view.setUint8(p, Number(v ?? 0)); break;
          case 'u16': view.setUint16(p, Number(v ?? 0), le); break;
          case 'u32': view.setUint32(p, Number(v ?? 0) >>> 0, le); break;
          case 'i32': view.setInt32(p, Number(v ?? 0) | 0, le); break;
          case 'u64': view.setBigUint64(p, BigInt(v ?? 0), le); break;
        }
      }
    },
    read(view, offset) {
      if (offset + size > view.byteLength) throw decodeError(`${name}: need ${size} bytes, have ${view.byteLength - offset}`, offset);
      const out: Record<string, Num> = {};
      for (const { spec, at, le } of layout) {
        const p = offset + at;
        switch (spec.type) {
          case 'pad': break;
          case 'u8': out[spec.name] = view.getUint8(p); break;
          case 'u16': out[spec.name] = view.getUint16(p, le); break;
          case 'u32': out[spec.name] = view.getUint32(p, le); break;
          case 'i32': out[spec.name] = view.getInt32(p, le); break;
          case 'u64': out[spec.name] = view.getBigUint64(p, le); break;
        }
      }
      return out as T;
    },
    encode(value) {
      const b = new Uint8Array(size);
      s.write(new DataView(b.buffer), 0, value);
      return b;
    },
    decode(bytes, offset = 0) {
      return s.read(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset);
    },
  };
  return s;
}
