/**
 * A small nf_tables in memory (the shape of mdlayher/netlink's nltest): tables, chains and
 * rules, answered as the kernel answers — GETGEN, GETTABLE/GETRULE (dump), and batches applied all or
 * nothing (each commit moves the generation once; a BATCH_BEGIN whose NFNL_BATCH_GENID is not the
 * generation is refused with ERESTART, as apply's optimistic check expects) with echoes (NLM_F_ECHO), acks, handles, insert-before (NFTA_RULE_POSITION),
 * NLM_F_APPEND and NLM_F_REPLACE by handle; sets with a declared size refuse elements past it (ENFILE) and
 * dump their size and element count (NFTA_SET_DESC_SIZE, NFTA_SET_COUNT). Tests inject refusals and races. Give `transport` to `Marker.open({ transport })`
 * or to the CLI's `main(argv, io, { transport })`.
 */
import { AttributeReader, AttributeWriter, attr } from '../../codecs/netlink/attributes.js';
import { NFNL_BATCH_GENID, nfgenmsg } from '../../codecs/netlink/batch.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_ECHO, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REPLACE, writeMessage, type NetlinkMessage } from '../../codecs/netlink/message.js';
import {
  decodeChain, decodeRule, decodeTable, NFPROTO_INET, NFT_MSG_DELCHAIN, NFT_MSG_DELRULE, NFT_MSG_GETCHAIN, writeChain, NFT_MSG_DELTABLE, NFT_MSG_GETGEN, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWCHAIN,
  NFT_MSG_NEWGEN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeRule, writeTable, type NftRule,
} from '../../codecs/nftables/messages.js';
import { EEXIST, ENFILE, ENOENT, ERESTART } from '../../codecs/errno.js';

/** NFTA_GEN_ID (enum nft_gen_attributes) */
const NFTA_GEN_ID = 1;
import {
  decodeSet, decodeSetElems, NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_GETSET, NFT_MSG_GETSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM,
  NFT_SET_ELEM_INTERVAL_END, writeSet, writeSetElems, type NftSetElem,
} from '../../codecs/nftables/set.js';
import { EBUSY } from '../../codecs/errno.js';
import { ackFor, doneFor, FakeTransport } from '../transport/fake.js';
import { NETLINK_NETFILTER, type NetlinkProtocol, type Transport } from '../transport/transport.js';

export interface FakeTable { readonly name: string; readonly comment?: string }
export interface FakeChain { readonly table: string; readonly name: string }

/** A set and its elements (keyed by key bytes and the END flag, as the kernel tells them apart). */
export interface FakeSet {
  readonly table: string; readonly name: string; readonly flags: number; readonly keyType?: number; readonly keyLen?: number; readonly handle: bigint;
  /** NFTA_SET_DESC_SIZE: elements past it are refused with ENFILE */
  readonly size?: number;
  readonly elements: ReadonlyMap<string, NftSetElem>;
}

const elemKey = (e: NftSetElem): string => `${Buffer.from(e.key).toString('hex')}/${(e.flags ?? 0) & NFT_SET_ELEM_INTERVAL_END}`;

/** Refuse the `index`-th NEWRULE of the next batches (counted from 0 within a batch), `times` times. */
export interface RuleFault { readonly index: number; readonly errno: number; readonly offsetIn?: (m: NetlinkMessage) => number; times?: number; readonly message?: string }

export class FakeNftKernel {
  tables: FakeTable[] = [];
  rules: NftRule[] = [];
  /** chains made by committed NEWCHAINs (GETCHAIN dumps them); a NEWCHAIN of an existing chain takes no handle, as in the kernel */
  chains: FakeChain[] = [];
  sets: FakeSet[] = [];
  /** the ruleset generation (nf_tables base_seq): GETGEN reads it, every committed batch moves it */
  generation = 1;
  /** the table's handle counter: chains and rules take the next handle, as in the kernel */
  handle = 0n;
  /** exchanges answered so far */
  exchanges = 0;
  failRule?: RuleFault;
  /** another program creates this table (with this comment) just before our next batch arrives */
  raceTable?: { name: string; comment?: string };
  /** false: GETSET dumps carry no NFTA_SET_COUNT, as kernels before 6.13 */
  dumpSetCount = true;
  /** called just before each batch is applied (another writer's change); a test clears it */
  beforeBatch?: (k: FakeNftKernel) => void;
  /** every request message received, in order */
  readonly requests: NetlinkMessage[] = [];

  /** A transport speaking to this kernel; rtnetlink (protocol 0) gets an empty dump or an ack for every request. */
  connect(protocol: NetlinkProtocol = NETLINK_NETFILTER): Transport {
    return new FakeTransport(protocol, (reqs) => (protocol === NETLINK_NETFILTER ? this.answer(reqs) : reqs.map((r) => (r.header.flags & 0x300 ? doneFor(r.header.seq) : ackFor(r)))));
  }

  /** A transport factory for MarkerOptions.transport. */
  get factory(): (protocol: NetlinkProtocol) => Transport { return (p) => this.connect(p); }

  private findTable(name: string): FakeTable | undefined { return this.tables.find((t) => t.name === name); }

  private answer(reqs: NetlinkMessage[]): Uint8Array[] {
    this.exchanges++;
    this.requests.push(...reqs);
    const r = reqs[0];
    if (r.header.type === nftType(NFT_MSG_GETGEN)) {
      const w = new AttributeWriter(64);
      writeMessage(w, nftType(NFT_MSG_NEWGEN), 0, r.header.seq, (w) => { w.struct(nfgenmsg, { family: 0, version: 0, resId: 0 }); w.u32(NFTA_GEN_ID, this.generation, 'be'); });
      return [w.finish(), ackFor(r)];
    }
    if (r.header.type === nftType(NFT_MSG_GETTABLE)) {
      const tb = this.findTable(decodeTable(r).name);
      if (!tb) return [ackFor(r, ENOENT)];
      const w = new AttributeWriter();
      writeTable(w, NFT_MSG_NEWTABLE, 0, r.header.seq, { family: NFPROTO_INET, name: tb.name, flags: 0, ...(tb.comment !== undefined ? { comment: tb.comment } : {}) });
      return [w.finish(), ackFor(r)];
    }
    if (r.header.type === nftType(NFT_MSG_GETCHAIN)) {
      const out = this.chains.map((c) => { const w = new AttributeWriter(); writeChain(w, NFT_MSG_NEWCHAIN, NLM_F_MULTI, r.header.seq, { family: NFPROTO_INET, table: c.table, name: c.name }); return w.finish(); });
      return [...out, doneFor(r.header.seq)];
    }
    if (r.header.type === nftType(NFT_MSG_GETRULE)) {
      // a dump request names only the table (NFTA_RULE_TABLE = 1), so it is no whole rule to decode
      let name: string | undefined;
      let handle: bigint | undefined;
      for (const a of new AttributeReader(r.payload.subarray(4))) { if (a.type === 1) name = attr.string(a); if (a.type === 3) handle = attr.u64(a, 'be'); }
      if (handle !== undefined) {
        // GETRULE of one rule (not a dump): the rule, or ENOENT
        const d = decodeRule(r);
        const rule = this.rules.find((x) => x.table === d.table && x.chain === d.chain && x.handle === handle);
        if (!rule) return [ackFor(r, ENOENT)];
        const w = new AttributeWriter();
        writeRule(w, NFT_MSG_NEWRULE, 0, r.header.seq, rule);
        return [w.finish(), ackFor(r)];
      }
      if (name && !this.findTable(name)) return [ackFor(r, ENOENT)];
      const out = this.rules.filter((x) => !name || x.table === name).map((rule) => {
        const w = new AttributeWriter();
        writeRule(w, NFT_MSG_NEWRULE, NLM_F_MULTI, r.header.seq, rule);
        return w.finish();
      });
      return [...out, doneFor(r.header.seq)];
    }
    if (r.header.type === nftType(NFT_MSG_GETSET)) {
      let name: string | undefined;
      for (const a of new AttributeReader(r.payload.subarray(4))) if (a.type === 1) name = attr.string(a);
      if (name && !this.findTable(name)) return [ackFor(r, ENOENT)];
      const out = this.sets.filter((x) => !name || x.table === name).map((x) => {
        const w = new AttributeWriter();
        writeSet(w, NFT_MSG_NEWSET, NLM_F_MULTI, r.header.seq, {
          family: NFPROTO_INET, table: x.table, name: x.name, handle: x.handle, flags: x.flags, ...(x.keyType !== undefined ? { keyType: x.keyType } : {}), ...(x.keyLen !== undefined ? { keyLen: x.keyLen } : {}),
          desc: x.size !== undefined ? { size: x.size } : {}, ...(this.dumpSetCount ? { count: x.elements.size } : {}),
        });
        return w.finish();
      });
      return [...out, doneFor(r.header.seq)];
    }
    if (r.header.type === nftType(NFT_MSG_GETSETELEM)) {
      const l = decodeSetElems(r);
      const set = this.sets.find((x) => x.table === l.table && x.name === l.set);
      if (!set) return [ackFor(r, ENOENT)];
      const w = new AttributeWriter();
      // the kernel answers one message per skb of elements; one message (split by nla_len) here
      if (set.elements.size) writeSetElems(w, NFT_MSG_NEWSETELEM, NLM_F_MULTI, r.header.seq, { family: NFPROTO_INET, table: set.table, set: set.name, elements: [...set.elements.values()] });
      return [...(set.elements.size ? [w.finish()] : []), doneFor(r.header.seq)];
    }
    return this.batch(reqs);
  }

  /** A batch: applied to copies, committed only if every message succeeded (nf_tables' transaction). */
  private batch(reqs: NetlinkMessage[]): Uint8Array[] {
    this.beforeBatch?.(this);
    const begin = reqs[0];
    let genid: number | undefined;
    for (const a of new AttributeReader(begin.payload.subarray(nfgenmsg.size), 0)) if (a.type === NFNL_BATCH_GENID) genid = attr.u32(a, 'be');
    if (genid !== undefined && genid !== this.generation) return [ackFor(begin, ERESTART)];
    const errs: Uint8Array[] = [];
    const echoes: Uint8Array[] = [];
    let tables = [...this.tables];
    let rules = [...this.rules];
    let chains = [...this.chains];
    let sets = this.sets.map((x) => ({ ...x, elements: new Map(x.elements) }));
    const setIds = new Map<number, string>();
    let anon = 0;
    let handle = this.handle;
    let ruleIndex = 0;
    let failed = false;
    for (const m of reqs.slice(1, -1)) {
      const type = m.header.type;
      let errno = 0;
      let offset: number | undefined;
      let message: string | undefined;
      if (type === nftType(NFT_MSG_NEWTABLE)) {
        const t = decodeTable(m);
        if (this.raceTable?.name === t.name) {
          this.tables = [...this.tables.filter((x) => x.name !== t.name), { ...this.raceTable }];
          tables = [...tables.filter((x) => x.name !== t.name), { ...this.raceTable }];
          this.raceTable = undefined;
        }
        if (tables.some((x) => x.name === t.name)) { if (m.header.flags & NLM_F_EXCL) errno = EEXIST; }
        else tables.push({ name: t.name, ...(t.comment !== undefined ? { comment: t.comment } : {}) });
      } else if (type === nftType(NFT_MSG_NEWCHAIN)) {
        const c = decodeChain(m);
        if (!chains.some((x) => x.table === c.table && x.name === c.name)) { chains.push({ table: c.table, name: c.name }); handle++; }
      }
      else if (type === nftType(NFT_MSG_NEWRULE)) {
        const f = this.failRule;
        if (f && f.index === ruleIndex && (f.times ?? 1) > 0) {
          errno = f.errno; offset = f.offsetIn?.(m); message = f.message ?? 'injected'; f.times = (f.times ?? 1) - 1;
        } else {
          const d = decodeRule(m);
          const rule: NftRule = { ...d, handle: m.header.flags & NLM_F_REPLACE ? d.handle : ++handle, position: undefined };
          if (m.header.flags & NLM_F_REPLACE) {
            // nf_tables_newrule: the rule of that handle is replaced in place, keeping the handle
            const at = rules.findIndex((x) => x.handle === d.handle && x.chain === d.chain && x.table === d.table);
            if (d.handle === undefined || at < 0) errno = ENOENT; else rules[at] = rule;
          } else if (d.position !== undefined) {
            const at = rules.findIndex((x) => x.handle === d.position && x.chain === d.chain);
            if (at < 0) errno = ENOENT; else rules.splice(at, 0, rule);
          } else if (m.header.flags & NLM_F_APPEND) rules.push(rule);
          else { const at = rules.findIndex((x) => x.chain === d.chain && x.table === d.table); rules.splice(at < 0 ? rules.length : at, 0, rule); }
          if (!errno && m.header.flags & NLM_F_ECHO) { const w = new AttributeWriter(); writeRule(w, NFT_MSG_NEWRULE, 0, m.header.seq, rule); echoes.push(w.finish()); }
        }
        ruleIndex++;
      } else if (type === nftType(NFT_MSG_DELCHAIN)) {
        const c = decodeChain(m);
        chains = chains.filter((x) => !(x.table === c.table && x.name === c.name));
      } else if (type === nftType(NFT_MSG_DELRULE)) {
        const d = decodeRule(m);
        const i = rules.findIndex((x) => x.handle === d.handle && x.chain === d.chain && x.table === d.table);
        if (i < 0) errno = ENOENT; else rules.splice(i, 1);
      } else if (type === nftType(NFT_MSG_DELTABLE)) {
        const name = decodeTable(m).name;
        if (!tables.some((x) => x.name === name)) errno = ENOENT;
        tables = tables.filter((x) => x.name !== name);
        rules = rules.filter((x) => x.table !== name);
        chains = chains.filter((x) => x.table !== name);
        sets = sets.filter((x) => x.table !== name);
      } else if (type === nftType(NFT_MSG_NEWSET)) {
        const d = decodeSet(m);
        const name = d.name.includes('%d') ? d.name.replace('%d', String(anon++)) : d.name;
        if (!tables.some((x) => x.name === d.table)) errno = ENOENT;
        else if (sets.some((x) => x.table === d.table && x.name === name)) { if (m.header.flags & NLM_F_EXCL) errno = EEXIST; }
        else sets.push({ table: d.table, name, flags: d.flags ?? 0, ...(d.keyType !== undefined ? { keyType: d.keyType } : {}), ...(d.keyLen !== undefined ? { keyLen: d.keyLen } : {}), ...(d.desc?.size ? { size: d.desc.size } : {}), handle: ++handle, elements: new Map() });
        if (!errno && d.id !== undefined) setIds.set(d.id, name);
      } else if (type === nftType(NFT_MSG_DELSET)) {
        const d = decodeSet(m);
        const i = sets.findIndex((x) => x.table === d.table && x.name === d.name);
        if (i < 0) errno = ENOENT;
        else if (rules.some((r) => r.table === d.table && r.exprs.some((e) => e.kind === 'lookup' && e.set === d.name))) errno = EBUSY;
        else sets.splice(i, 1);
      } else if (type === nftType(NFT_MSG_NEWSETELEM) || type === nftType(NFT_MSG_DELSETELEM)) {
        const l = decodeSetElems(m);
        const name = l.setId !== undefined && !sets.some((x) => x.table === l.table && x.name === l.set) ? setIds.get(l.setId) : l.set;
        const set = sets.find((x) => x.table === l.table && x.name === name);
        if (!set) errno = ENOENT;
        else if (type === nftType(NFT_MSG_NEWSETELEM)) {
          for (const e of l.elements) {
            const has = set.elements.has(elemKey(e));
            if (has && m.header.flags & NLM_F_EXCL) { errno = EEXIST; break; }
            // nft_add_set_elem: a new element past the declared size (deletes earlier in the batch freed room)
            if (!has && set.size !== undefined && set.elements.size >= set.size) { errno = ENFILE; break; }
            set.elements.set(elemKey(e), e);
          }
        } else {
          for (const e of l.elements) if (!set.elements.delete(elemKey(e))) { errno = ENOENT; break; }
        }
      }
      if (errno) { failed = true; errs.push(ackFor(m, errno, offset === undefined && message === undefined ? undefined : { ...(message !== undefined ? { message } : {}), ...(offset !== undefined ? { offset } : {}) })); }
      else if (m.header.flags & NLM_F_ACK) errs.push(ackFor(m));
    }
    if (failed) return errs;
    this.tables = tables; this.rules = rules; this.chains = chains; this.sets = sets; this.handle = handle;
    // nf_tables_commit() moves base_seq once per batch, skipping 0
    this.generation = ((this.generation + 1) >>> 0) || 1;
    return [...echoes, ...errs];
  }
}
