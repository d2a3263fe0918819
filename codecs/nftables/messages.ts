/**
 * nf_tables messages: tables, chains, rules (linux/netfilter/nf_tables.h), each written with the
 * attribute order nft 1.0.6 / libnftnl use (checked against fixtures/nft/*.json) and read back
 * in any order. Kernel dumps leave NLA_F_NESTED off their nests; the reader accepts both.
 */
import { decodeError } from '../errors.js';
import { rawOf, writeRaw, type RawAttr } from '../netlink/raw.js';
import { AttributeReader, attr, nestedReader, type Attribute, type AttributeWriter } from '../netlink/attributes.js';
import { nfgenmsg, NFNETLINK_V0, NFNL_SUBSYS_NFTABLES } from '../netlink/batch.js';
import { NLMSG_HDRLEN, writeMessage, type NetlinkMessage } from '../netlink/message.js';
import { decodeExprList, encodeExpr, type Expr } from './expr/index.js';
import { commentTlv, decodeUserdata, encodeUserdata, onlyComment } from './userdata.js';

/** enum nf_tables_msg_types */
export const NFT_MSG_NEWTABLE = 0;
export const NFT_MSG_GETTABLE = 1;
export const NFT_MSG_DELTABLE = 2;
export const NFT_MSG_NEWCHAIN = 3;
export const NFT_MSG_GETCHAIN = 4;
export const NFT_MSG_DELCHAIN = 5;
export const NFT_MSG_NEWRULE = 6;
export const NFT_MSG_GETRULE = 7;
export const NFT_MSG_DELRULE = 8;
export const NFT_MSG_NEWGEN = 15;
export const NFT_MSG_GETGEN = 16;

/** nlmsg_type of an nf_tables message: subsystem in the high byte. */
export const nftType = (msg: number): number => (NFNL_SUBSYS_NFTABLES << 8) | msg;

/** linux/netfilter.h NFPROTO_* (nfgenmsg.nfgen_family, and the value of `meta nfproto`). */
export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

/** linux/netfilter.h NF_INET_* hook numbers */
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_LOCAL_OUT = 3;

const NFTA_TABLE_NAME = 1;
const NFTA_TABLE_FLAGS = 2;
const NFTA_TABLE_USE = 3;
const NFTA_TABLE_HANDLE = 4;
const NFTA_TABLE_USERDATA = 6;

const NFTA_CHAIN_TABLE = 1;
const NFTA_CHAIN_HANDLE = 2;
const NFTA_CHAIN_NAME = 3;
const NFTA_CHAIN_HOOK = 4;
const NFTA_CHAIN_POLICY = 5;
const NFTA_CHAIN_TYPE = 7;
const NFTA_HOOK_HOOKNUM = 1;
const NFTA_HOOK_PRIORITY = 2;

export const NFTA_RULE_TABLE = 1;
export const NFTA_RULE_CHAIN = 2;
export const NFTA_RULE_HANDLE = 3;
export const NFTA_RULE_EXPRESSIONS = 4;
export const NFTA_RULE_POSITION = 6;
export const NFTA_RULE_USERDATA = 7;
const NFTA_RULE_ID = 9;
const NFTA_RULE_POSITION_ID = 10;

/** enum nft_gen_attributes (the answer to GETGEN is a NEWGEN message) */
const NFTA_GEN_ID = 1;
const NFTA_GEN_PROC_PID = 2;
const NFTA_GEN_PROC_NAME = 3;

export interface NftTable {
  readonly family: number;
  readonly name: string;
  readonly flags?: number;
  readonly handle?: bigint;
  readonly use?: number;
  /** from a userdata blob that is exactly one comment TLV */
  readonly comment?: string;
  /** the userdata blob when it holds anything else (written as is) */
  readonly userdata?: Uint8Array;
}

export interface NftHook { readonly num: number; readonly priority: number }

export interface NftChain {
  readonly family: number;
  readonly table: string;
  readonly name: string;
  readonly handle?: bigint;
  /** base chains only */
  readonly hook?: NftHook;
  readonly type?: string;
  /** NF_ACCEPT = 1, NF_DROP = 0 */
  readonly policy?: number;
}

/** An attribute pktmark does not model: kept with its NLA_F_NESTED bit, written back as it came. */
export type UnknownAttr = RawAttr;

export interface NftRule {
  readonly family: number;
  readonly table: string;
  readonly chain: string;
  readonly handle?: bigint;
  readonly position?: bigint;
  /**
   * NFTA_RULE_ID: a batch-local number naming this new rule, so that a later NEWRULE of the same
   * batch can be placed after it with NFTA_RULE_POSITION_ID (it has no handle yet). Be32, nonzero.
   */
  readonly id?: number;
  readonly positionId?: number;
  readonly exprs: readonly Expr[];
  readonly comment?: string;
  readonly userdata?: Uint8Array;
  /** rule attributes pktmark does not model (e.g. NFTA_RULE_COMPAT), kept and written back last */
  readonly extra?: readonly UnknownAttr[];
}

/** The nfgenmsg every nf_tables request starts with (res_id 0 outside batch framing). */
export function header(w: AttributeWriter, family: number): void {
  w.struct(nfgenmsg, { family, version: NFNETLINK_V0, resId: 0 });
}

function userdataOf(x: { comment?: string; userdata?: Uint8Array }): Uint8Array | undefined {
  if (x.userdata !== undefined) return x.userdata;
  return x.comment === undefined ? undefined : encodeUserdata([commentTlv(x.comment)]);
}

/** NEWTABLE / DELTABLE / GETTABLE. nft writes NAME, FLAGS, USERDATA. */
export function writeTable(w: AttributeWriter, msg: number, flags: number, seq: number, t: NftTable): void {
  writeMessage(w, nftType(msg), flags, seq, (w) => {
    header(w, t.family);
    w.string(NFTA_TABLE_NAME, t.name);
    if (t.handle !== undefined) w.u64(NFTA_TABLE_HANDLE, t.handle, 'be');
    if (t.flags !== undefined) w.u32(NFTA_TABLE_FLAGS, t.flags, 'be');
    const u = userdataOf(t);
    if (u !== undefined) w.bytes(NFTA_TABLE_USERDATA, u);
  });
}

/** NEWCHAIN / DELCHAIN / GETCHAIN. nft writes TABLE, NAME, TYPE, HOOK{HOOKNUM, PRIORITY}; all numbers be32. */
export function writeChain(w: AttributeWriter, msg: number, flags: number, seq: number, c: NftChain): void {
  writeMessage(w, nftType(msg), flags, seq, (w) => {
    header(w, c.family);
    w.string(NFTA_CHAIN_TABLE, c.table);
    if (c.handle !== undefined) w.u64(NFTA_CHAIN_HANDLE, c.handle, 'be');
    w.string(NFTA_CHAIN_NAME, c.name);
    if (c.type !== undefined) w.string(NFTA_CHAIN_TYPE, c.type);
    if (c.hook !== undefined) {
      const h = c.hook;
      w.nested(NFTA_CHAIN_HOOK, (w) => {
        w.u32(NFTA_HOOK_HOOKNUM, h.num, 'be');
        // priority is a signed be32: raw = -300 is ff ff fe d4
        w.i32(NFTA_HOOK_PRIORITY, h.priority, 'be');
      });
    }
    if (c.policy !== undefined) w.u32(NFTA_CHAIN_POLICY, c.policy, 'be');
  });
}

/** Byte span of one expression inside the message written by writeRule, from the nlmsghdr. */
export interface ExprSpan { readonly index: number; readonly start: number; readonly end: number }

/**
 * NEWRULE / DELRULE / GETRULE. Order as nft 1.0.6 sends it (fixtures/nft/comment.json,
 * insert-before.json): TABLE, CHAIN, HANDLE, EXPRESSIONS, POSITION, USERDATA.
 * `spans`, if given, receives where each expression landed (to map an ext-ack offset to it).
 */
export function writeRule(w: AttributeWriter, msg: number, flags: number, seq: number, r: NftRule, spans?: ExprSpan[]): void {
  const msgStart = w.length;
  writeMessage(w, nftType(msg), flags, seq, (w) => {
    header(w, r.family);
    w.string(NFTA_RULE_TABLE, r.table);
    w.string(NFTA_RULE_CHAIN, r.chain);
    if (r.handle !== undefined) w.u64(NFTA_RULE_HANDLE, r.handle, 'be');
    if (r.exprs.length > 0) {
      w.nested(NFTA_RULE_EXPRESSIONS, (w) => {
        r.exprs.forEach((e, index) => {
          const start = w.length - msgStart;
          encodeExpr(w, e);
          spans?.push({ index, start, end: w.length - msgStart });
        });
      });
    }
    // nft 1.0.6 writes POSITION after the expressions (fixtures/nft/insert-before.json)
    if (r.position !== undefined) w.u64(NFTA_RULE_POSITION, r.position, 'be');
    const u = userdataOf(r);
    if (u !== undefined) w.bytes(NFTA_RULE_USERDATA, u);
    // libnftnl's order: ID and POSITION_ID after the payload (nftnl_rule_nlmsg_build_payload)
    if (r.id !== undefined) w.u32(NFTA_RULE_ID, r.id, 'be');
    if (r.positionId !== undefined) w.u32(NFTA_RULE_POSITION_ID, r.positionId, 'be');
    for (const x of r.extra ?? []) writeRaw(w, x);
  });
}

/** GETRULE dump of one table (and optionally one chain), as `nft list table` asks for it. */
export function writeRuleDump(w: AttributeWriter, flags: number, seq: number, family: number, table: string, chain?: string): void {
  writeMessage(w, nftType(NFT_MSG_GETRULE), flags, seq, (w) => {
    header(w, family);
    w.string(NFTA_RULE_TABLE, table);
    if (chain !== undefined) w.string(NFTA_RULE_CHAIN, chain);
  });
}

/** GETGEN, as nft sends it before it reads the ruleset: family AF_UNSPEC, no attributes. */
export function writeGetGen(w: AttributeWriter, flags: number, seq: number): void {
  writeMessage(w, nftType(NFT_MSG_GETGEN), flags, seq, (w) => header(w, 0));
}

export interface NftGen {
  /** the ruleset generation (nf_tables base_seq): every commit in the namespace moves it */
  readonly id: number;
  /** the process that made the last commit, when the kernel says */
  readonly pid?: number;
  readonly procName?: string;
}

export function decodeGen(m: NetlinkMessage): NftGen {
  const { attrs } = body(m, [NFT_MSG_NEWGEN], 'gen');
  let id: number | undefined;
  const g: { pid?: number; procName?: string } = {};
  for (const a of attrs) {
    if (a.type === NFTA_GEN_ID) id = attr.u32(a, 'be');
    else if (a.type === NFTA_GEN_PROC_PID) g.pid = attr.u32(a, 'be');
    else if (a.type === NFTA_GEN_PROC_NAME) g.procName = attr.string(a);
  }
  if (id === undefined) throw decodeError('NEWGEN without NFTA_GEN_ID', m.offset);
  return { id, ...g };
}

/** An nf_tables message of one of `msgs`: its family and a reader over its attributes (DECODE with the offset otherwise). */
export function body(m: NetlinkMessage, msgs: readonly number[], what: string): { family: number; attrs: AttributeReader } {
  const t = m.header.type;
  if (t >> 8 !== NFNL_SUBSYS_NFTABLES || !msgs.includes(t & 0xff)) {
    throw decodeError(`not an nf_tables ${what} message (type 0x${t.toString(16)})`, m.offset);
  }
  if (m.payload.length < nfgenmsg.size) throw decodeError(`${what} message without nfgenmsg`, m.offset + NLMSG_HDRLEN);
  const g = nfgenmsg.decode(m.payload);
  return { family: g.family, attrs: new AttributeReader(m.payload.subarray(nfgenmsg.size), m.offset + NLMSG_HDRLEN + nfgenmsg.size) };
}

function withUserdata<T extends object>(o: T, a: Attribute | undefined): T & { comment?: string; userdata?: Uint8Array } {
  if (!a) return o;
  const c = onlyComment(decodeUserdata(a.data, a.offset + 4));
  return c === undefined ? { ...o, userdata: a.data.slice() } : { ...o, comment: c };
}

export function decodeTable(m: NetlinkMessage): NftTable {
  const { family, attrs } = body(m, [NFT_MSG_NEWTABLE, NFT_MSG_GETTABLE, NFT_MSG_DELTABLE], 'table');
  let name: string | undefined;
  let t: { -readonly [K in keyof NftTable]?: NftTable[K] } = {};
  let ud: Attribute | undefined;
  for (const a of attrs) {
    switch (a.type) {
      case NFTA_TABLE_NAME: name = attr.string(a); break;
      case NFTA_TABLE_FLAGS: t.flags = attr.u32(a, 'be'); break;
      case NFTA_TABLE_USE: t.use = attr.u32(a, 'be'); break;
      case NFTA_TABLE_HANDLE: t.handle = attr.u64(a, 'be'); break;
      case NFTA_TABLE_USERDATA: ud = a; break;
      default: break; // NFTA_TABLE_OWNER, padding: not needed by pktmark
    }
  }
  if (name === undefined) throw decodeError('table without NFTA_TABLE_NAME', m.offset);
  t = withUserdata(t, ud);
  return { family, name, ...t };
}

export function decodeChain(m: NetlinkMessage): NftChain {
  const { family, attrs } = body(m, [NFT_MSG_NEWCHAIN, NFT_MSG_GETCHAIN, NFT_MSG_DELCHAIN], 'chain');
  let table: string | undefined;
  let name: string | undefined;
  const c: { -readonly [K in keyof NftChain]?: NftChain[K] } = {};
  for (const a of attrs) {
    switch (a.type) {
      case NFTA_CHAIN_TABLE: table = attr.string(a); break;
      case NFTA_CHAIN_NAME: name = attr.string(a); break;
      case NFTA_CHAIN_HANDLE: c.handle = attr.u64(a, 'be'); break;
      case NFTA_CHAIN_TYPE: c.type = attr.string(a); break;
      case NFTA_CHAIN_POLICY: c.policy = attr.u32(a, 'be'); break;
      case NFTA_CHAIN_HOOK: {
        let num: number | undefined;
        let priority: number | undefined;
        for (const h of nestedReader(a)) {
          if (h.type === NFTA_HOOK_HOOKNUM) num = attr.u32(h, 'be');
          else if (h.type === NFTA_HOOK_PRIORITY) priority = attr.i32(h, 'be');
        }
        if (num !== undefined && priority !== undefined) c.hook = { num, priority };
        break;
      }
      default: break;
    }
  }
  if (table === undefined || name === undefined) throw decodeError('chain without table or name', m.offset);
  return { family, table, name, ...c };
}

/**
 * Only the handle of a NEWRULE echo (undefined if it has none): an add reads the handles of its
 * first and last rule, and decoding their whole expression lists was most of its reply handling.
 */
export function ruleHandle(m: NetlinkMessage): bigint | undefined {
  const { attrs } = body(m, [NFT_MSG_NEWRULE, NFT_MSG_GETRULE, NFT_MSG_DELRULE], 'rule');
  for (const a of attrs) if (a.type === NFTA_RULE_HANDLE) return attr.u64(a, 'be');
  return undefined;
}

export function decodeRule(m: NetlinkMessage): NftRule {
  const { family, attrs } = body(m, [NFT_MSG_NEWRULE, NFT_MSG_GETRULE, NFT_MSG_DELRULE], 'rule');
  let table: string | undefined;
  let chain: string | undefined;
  let exprs: Expr[] = [];
  let ud: Attribute | undefined;
  const r: { handle?: bigint; position?: bigint } = {};
  const extra: UnknownAttr[] = [];
  for (const a of attrs) {
    switch (a.type) {
      case NFTA_RULE_TABLE: table = attr.string(a); break;
      case NFTA_RULE_CHAIN: chain = attr.string(a); break;
      case NFTA_RULE_HANDLE: r.handle = attr.u64(a, 'be'); break;
      case NFTA_RULE_POSITION: r.position = attr.u64(a, 'be'); break;
      case NFTA_RULE_EXPRESSIONS: exprs = decodeExprList(a); break;
      case NFTA_RULE_USERDATA: ud = a; break;
      default: extra.push(rawOf(a));
    }
  }
  if (table === undefined || chain === undefined) throw decodeError('rule without table or chain', m.offset);
  const out = withUserdata({ family, table, chain, ...r, exprs }, ud);
  return extra.length ? { ...out, extra } : out;
}
