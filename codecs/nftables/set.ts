/**
 * nf_tables sets (linux/netfilter/nf_tables.h): NEWSET / GETSET / DELSET, written in the
 * attribute order nft 1.0.6 / libnftnl use (fixtures/nft/set-*.json) and read back in any order.
 * Their elements are set-elems.ts, the userdata TLVs set-userdata.ts — both re-exported here, so
 * this stays the one import for the set wire. Interval encoding (start/END pairs) lives in
 * set-intervals.ts.
 */
import { decodeError } from '../errors.js';
import { rawOf, writeRaw, type RawAttr } from '../netlink/raw.js';
import { attr, nestedReader, type Attribute, type AttributeWriter } from '../netlink/attributes.js';
import { writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { body, header, nftType } from './messages.js';
import { once } from './set-elems.js';

/** enum nf_tables_msg_types */
export const NFT_MSG_NEWSET = 9;
export const NFT_MSG_GETSET = 10;
export const NFT_MSG_DELSET = 11;

/** enum nft_set_flags (NFTA_SET_FLAGS, be32) */
export const NFT_SET_ANONYMOUS = 0x1;
export const NFT_SET_CONSTANT = 0x2;
export const NFT_SET_INTERVAL = 0x4;
export const NFT_SET_MAP = 0x8;
export const NFT_SET_TIMEOUT = 0x10;
export const NFT_SET_EVAL = 0x20;
export const NFT_SET_OBJECT = 0x40;
export const NFT_SET_CONCAT = 0x80;
export const NFT_SET_EXPR = 0x100;

/** enum nft_set_policies (NFTA_SET_POLICY) */
export const NFT_SET_POL_PERFORMANCE = 0;
export const NFT_SET_POL_MEMORY = 1;


/**
 * nft's own datatype ids (nftables include/datatype.h, enum datatypes), which it writes as
 * NFTA_SET_KEY_TYPE / NFTA_SET_DATA_TYPE; the kernel stores them without interpreting them.
 * Captured: ipv4_addr 7, ipv6_addr 8, inet_service 13.
 */
export const NFT_DATATYPE = {
  verdict: 1, integer: 4, ipv4_addr: 7, ipv6_addr: 8, inet_proto: 12, inet_service: 13, mark: 19, ifindex: 20,
} as const;

const NFTA_SET_TABLE = 1;
const NFTA_SET_NAME = 2;
const NFTA_SET_FLAGS = 3;
const NFTA_SET_KEY_TYPE = 4;
const NFTA_SET_KEY_LEN = 5;
const NFTA_SET_DATA_TYPE = 6;
const NFTA_SET_DATA_LEN = 7;
const NFTA_SET_POLICY = 8;
const NFTA_SET_DESC = 9;
const NFTA_SET_ID = 10;
const NFTA_SET_TIMEOUT = 11;
const NFTA_SET_GC_INTERVAL = 12;
const NFTA_SET_USERDATA = 13;
const NFTA_SET_HANDLE = 16;
/** dump only (Linux 6.13+, after NFTA_SET_TYPE = 19): how many elements the set holds */
const NFTA_SET_COUNT = 20;
const NFTA_SET_DESC_SIZE = 1;
const NFTA_SET_DESC_CONCAT = 2;
const NFTA_SET_FIELD_LEN = 1;

const NFTA_LIST_ELEM = 1;

/** NFTA_SET_DESC: the expected size (nft sends it for anonymous sets and `size N`) and concat field lengths. */
export interface NftSetDesc {
  readonly size?: number;
  /** NFTA_SET_DESC_CONCAT: one NFTA_SET_FIELD_LEN per field of a concatenated key */
  readonly concat?: readonly number[];
}

export interface NftSet {
  readonly family: number;
  readonly table: string;
  readonly name: string;
  readonly handle?: bigint;
  /** NFT_SET_* bits; nft writes the attribute even when it is 0 (a plain named hash set) */
  readonly flags?: number;
  /** nft datatype id (NFT_DATATYPE) */
  readonly keyType?: number;
  /** key length in bytes */
  readonly keyLen?: number;
  /** maps only */
  readonly dataType?: number;
  readonly dataLen?: number;
  readonly policy?: number;
  /** NFTA_SET_ID: the batch-local id a lookup (or NEWSETELEM) in the same batch refers to */
  readonly id?: number;
  readonly desc?: NftSetDesc;
  /** milliseconds (be64) */
  readonly timeout?: bigint;
  /** milliseconds (be32) */
  readonly gcInterval?: number;
  /** libnftnl set userdata TLVs (see encodeSetUserdata); nft always writes the key byte order */
  readonly userdata?: Uint8Array;
  /** attributes pktmark does not model (NFTA_SET_EXPR, NFTA_SET_TYPE, …), kept and written back last */
  readonly extra?: readonly RawAttr[];
  /**
   * NFTA_SET_COUNT: the elements the set holds, as a dump reports it (nf_tables_fill_set, Linux
   * 6.13+; the kernel ignores it in a request). Written after `extra`, where the kernel puts it
   * (after NFTA_SET_TYPE), so a dumped set re-encodes to its own bytes.
   */
  readonly count?: number;
}

/**
 * NEWSET / DELSET / GETSET. Order as nft 1.0.6 sends it (set-hash-v4, set-hash-v4-policy,
 * set-anon-ports): TABLE, NAME, HANDLE, FLAGS, KEY_TYPE, KEY_LEN, DATA_TYPE, DATA_LEN, ID,
 * POLICY, DESC, TIMEOUT, GC_INTERVAL, USERDATA. Note ID before POLICY and DESC (libnftnl order,
 * not the enum's).
 */
export function writeSet(w: AttributeWriter, msg: number, flags: number, seq: number, s: NftSet): void {
  writeMessage(w, nftType(msg), flags, seq, (w) => {
    header(w, s.family);
    w.string(NFTA_SET_TABLE, s.table);
    w.string(NFTA_SET_NAME, s.name);
    if (s.handle !== undefined) w.u64(NFTA_SET_HANDLE, s.handle, 'be');
    if (s.flags !== undefined) w.u32(NFTA_SET_FLAGS, s.flags, 'be');
    if (s.keyType !== undefined) w.u32(NFTA_SET_KEY_TYPE, s.keyType, 'be');
    if (s.keyLen !== undefined) w.u32(NFTA_SET_KEY_LEN, s.keyLen, 'be');
    if (s.dataType !== undefined) w.u32(NFTA_SET_DATA_TYPE, s.dataType, 'be');
    if (s.dataLen !== undefined) w.u32(NFTA_SET_DATA_LEN, s.dataLen, 'be');
    if (s.id !== undefined) w.u32(NFTA_SET_ID, s.id, 'be');
    if (s.policy !== undefined) w.u32(NFTA_SET_POLICY, s.policy, 'be');
    if (s.desc !== undefined) {
      const d = s.desc;
      w.nested(NFTA_SET_DESC, (w) => {
        if (d.size !== undefined) w.u32(NFTA_SET_DESC_SIZE, d.size, 'be');
        if (d.concat !== undefined) {
          const fields = d.concat;
          w.nested(NFTA_SET_DESC_CONCAT, (w) => {
            for (const len of fields) w.nested(NFTA_LIST_ELEM, (w) => w.u32(NFTA_SET_FIELD_LEN, len, 'be'));
          });
        }
      });
    }
    if (s.timeout !== undefined) w.u64(NFTA_SET_TIMEOUT, s.timeout, 'be');
    if (s.gcInterval !== undefined) w.u32(NFTA_SET_GC_INTERVAL, s.gcInterval, 'be');
    if (s.userdata !== undefined) w.bytes(NFTA_SET_USERDATA, s.userdata);
    for (const x of s.extra ?? []) writeRaw(w, x);
    if (s.count !== undefined) w.u32(NFTA_SET_COUNT, s.count, 'be');
  });
}

/** The GETSET dump of one table (NLM_F_DUMP), or of all tables when `table` is undefined. */
export function writeSetDump(w: AttributeWriter, flags: number, seq: number, family: number, table?: string): void {
  writeMessage(w, nftType(NFT_MSG_GETSET), flags, seq, (w) => {
    header(w, family);
    if (table !== undefined) w.string(NFTA_SET_TABLE, table);
  });
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

export function decodeSet(m: NetlinkMessage): NftSet {
  const { family, attrs } = body(m, [NFT_MSG_NEWSET, NFT_MSG_GETSET, NFT_MSG_DELSET], 'set');
  let table: string | undefined;
  let name: string | undefined;
  const s: Mutable<NftSet> = {};
  const extra: RawAttr[] = [];
  const seen = new Set<number>();
  for (const a of attrs) {
    const one = <T>(v: () => T): T => once(seen, a, 'set', v);
    switch (a.type) {
      case NFTA_SET_TABLE: table = one(() => attr.string(a)); break;
      case NFTA_SET_NAME: name = one(() => attr.string(a)); break;
      case NFTA_SET_HANDLE: s.handle = one(() => attr.u64(a, 'be')); break;
      case NFTA_SET_FLAGS: s.flags = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_KEY_TYPE: s.keyType = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_KEY_LEN: s.keyLen = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_DATA_TYPE: s.dataType = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_DATA_LEN: s.dataLen = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_POLICY: s.policy = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_ID: s.id = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_TIMEOUT: s.timeout = one(() => attr.u64(a, 'be')); break;
      case NFTA_SET_GC_INTERVAL: s.gcInterval = one(() => attr.u32(a, 'be')); break;
      case NFTA_SET_USERDATA: s.userdata = one(() => attr.bytes(a)); break;
      case NFTA_SET_DESC: s.desc = one(() => decodeDesc(a)); break;
      case NFTA_SET_COUNT: s.count = one(() => attr.u32(a, 'be')); break;
      default: extra.push(rawOf(a));
    }
  }
  if (table === undefined || name === undefined) throw decodeError('set without table or name', m.offset);
  const out: NftSet = { family, table, name, ...s };
  return extra.length ? { ...out, extra } : out;
}

function decodeDesc(a: Attribute): NftSetDesc {
  const d: Mutable<NftSetDesc> = {};
  const seen = new Set<number>();
  for (const x of nestedReader(a)) {
    if (x.type === NFTA_SET_DESC_SIZE) d.size = once(seen, x, 'set desc', () => attr.u32(x, 'be'));
    else if (x.type === NFTA_SET_DESC_CONCAT) {
      d.concat = once(seen, x, 'set desc', () => [...nestedReader(x)].map((f) => {
        const lens = [...nestedReader(f)].filter((l) => l.type === NFTA_SET_FIELD_LEN);
        if (lens.length !== 1) throw decodeError('concat field without one NFTA_SET_FIELD_LEN', f.offset);
        return attr.u32(lens[0], 'be');
      }));
    } else throw decodeError(`set desc: unknown attribute ${x.type}`, x.offset);
  }
  return d;
}

// Elements (set-elems.ts) and the userdata TLVs of sets and elements (set-userdata.ts).
export * from './set-elems.js';
export * from './set-userdata.js';
