/**
 * A small model of nf_tables for apply's unit tests, behind a FakeTransport: GETGEN, GETTABLE,
 * GETRULE dumps, and batches with the kernel's placement rules (nf_tables_newrule: REPLACE by
 * handle keeps the handle; POSITION / POSITION_ID with APPEND → after, without → before; no
 * position: APPEND → tail, else head), NFNL_BATCH_GENID (ERESTART on the BATCH_BEGIN when the
 * generation moved) and all-or-nothing commits that bump the generation once.
 */
import { NFT_MSG_GETSET } from '../../codecs/nftables/set.js';
import { AttributeReader, AttributeWriter, attr } from '../../codecs/netlink/attributes.js';
import { NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, nfgenmsg } from '../../codecs/netlink/batch.js';
import { NLM_F_APPEND, NLM_F_ECHO, NLM_F_REPLACE, type NetlinkMessage } from '../../codecs/netlink/message.js';
import {
  decodeRule, NFPROTO_INET, NFT_MSG_DELRULE, NFT_MSG_GETCHAIN, NFT_MSG_GETGEN, writeChain, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWGEN,
  NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeRule, writeTable, type NftRule,
} from '../../codecs/nftables/messages.js';
import { writeMessage } from '../../codecs/netlink/message.js';
import { ackFor, doneFor, FakeTransport } from '../../src/transport/fake.js';
import { NETLINK_NETFILTER } from '../../src/transport/transport.js';

const ENOENT = 2;
const ERESTART = 85;
const NFTA_RULE_ID = 9;
const NFTA_RULE_POSITION_ID = 10;

interface KRule { rule: NftRule; handle: bigint }

function u32Attr(m: NetlinkMessage, type: number): number | undefined {
  const r = new AttributeReader(m.payload.subarray(nfgenmsg.size), 0);
  for (const a of r) if (a.type === type) return attr.u32(a, 'be');
  return undefined;
}

export class NftKernel {
  generation = 1;
  table = false;
  chains = new Map<string, KRule[]>();
  hgen = 0n;
  /** every batch that reached the kernel (parsed), for assertions */
  readonly batches: NetlinkMessage[][] = [];
  /** called just before a batch is processed: a concurrent writer */
  beforeBatch?: () => void;
  readonly transport = new FakeTransport(NETLINK_NETFILTER, (reqs) => this.exchange(reqs));

  /** a commit by someone else */
  bump(): void { this.generation++; }

  rulesOf(chain: string): KRule[] { return this.chains.get(chain) ?? []; }

  private exchange(reqs: NetlinkMessage[]): Uint8Array[] {
    const r = reqs[0];
    const t = r.header.type;
    if (t === nftType(NFT_MSG_GETGEN)) {
      const w = new AttributeWriter();
      writeMessage(w, nftType(NFT_MSG_NEWGEN), 0, r.header.seq, (w) => { w.struct(nfgenmsg, { family: 0, version: 0, resId: 0 }); w.u32(1, this.generation, 'be'); });
      return [w.finish(), ackFor(r)];
    }
    if (t === nftType(NFT_MSG_GETTABLE)) {
      if (!this.table) return [ackFor(r, ENOENT)];
      const w = new AttributeWriter();
      writeTable(w, NFT_MSG_NEWTABLE, 0, r.header.seq, { family: NFPROTO_INET, name: 'pktmark', flags: 0, comment: 'pktmark' });
      return [w.finish(), ackFor(r)];
    }
    if (t === nftType(NFT_MSG_GETRULE)) {
      const out: Uint8Array[] = [];
      for (const [chain, list] of this.chains) {
        for (const k of list) {
          const w = new AttributeWriter();
          writeRule(w, NFT_MSG_NEWRULE, 2, r.header.seq, { ...k.rule, chain, handle: k.handle });
          out.push(w.finish());
        }
      }
      return [...out, doneFor(r.header.seq)];
    }
    if (t === nftType(NFT_MSG_GETCHAIN)) {
      const out = [...this.chains.keys()].map((name) => { const w = new AttributeWriter(); writeChain(w, NFT_MSG_NEWCHAIN, 2, r.header.seq, { family: NFPROTO_INET, table: 'pktmark', name }); return w.finish(); });
      return [...out, doneFor(r.header.seq)];
    }
    // no sets in this model: list's dump of the anonymous sets is empty
    if (t === nftType(NFT_MSG_GETSET)) return [doneFor(r.header.seq)];
    if (t === NFNL_MSG_BATCH_BEGIN) return this.batch(reqs);
    throw new Error(`fake kernel: unexpected message type ${t}`);
  }

  private batch(reqs: NetlinkMessage[]): Uint8Array[] {
    this.beforeBatch?.();
    this.batches.push(reqs);
    const begin = reqs[0];
    const genid = u32Attr(begin, 1);
    if (genid !== undefined && genid !== this.generation) return [ackFor(begin, ERESTART)];
    // work on copies: all or nothing
    const chains = new Map([...this.chains].map(([k, v]) => [k, [...v]]));
    let table = this.table;
    let hgen = this.hgen;
    const byId = new Map<number, KRule>();
    const out: Uint8Array[] = [];
    for (const m of reqs) {
      const t = m.header.type;
      if (t === NFNL_MSG_BATCH_BEGIN || t === NFNL_MSG_BATCH_END) continue;
      if (t === nftType(NFT_MSG_NEWTABLE)) { table = true; continue; }
      if (t === nftType(NFT_MSG_NEWCHAIN)) continue;
      const fail = (): Uint8Array[] => [ackFor(m, ENOENT)];
      const rule = decodeRule(m);
      const list = chains.get(rule.chain) ?? [];
      chains.set(rule.chain, list);
      if (!table) return fail();
      if (t === nftType(NFT_MSG_DELRULE)) {
        const i = list.findIndex((k) => k.handle === rule.handle);
        if (i < 0) return fail();
        list.splice(i, 1);
        continue;
      }
      const f = m.header.flags;
      const id = u32Attr(m, NFTA_RULE_ID);
      const posId = u32Attr(m, NFTA_RULE_POSITION_ID);
      const stored: NftRule = { family: rule.family, table: rule.table, chain: rule.chain, exprs: rule.exprs, ...(rule.userdata ? { userdata: rule.userdata } : {}), ...(rule.comment !== undefined ? { comment: rule.comment } : {}) };
      let k: KRule;
      if (rule.handle !== undefined) {
        if (!(f & NLM_F_REPLACE)) return fail();
        const i = list.findIndex((x) => x.handle === rule.handle);
        if (i < 0) return fail();
        k = { rule: stored, handle: rule.handle };
        list[i] = k;
      } else {
        k = { rule: stored, handle: ++hgen };
        let at: number;
        if (rule.position !== undefined || posId !== undefined) {
          const anchor = rule.position !== undefined ? list.find((x) => x.handle === rule.position) : byId.get(posId!);
          const i = anchor ? list.indexOf(anchor) : -1;
          if (i < 0) return fail();
          at = f & NLM_F_APPEND ? i + 1 : i;
        } else {
          at = f & NLM_F_APPEND ? list.length : 0;
        }
        list.splice(at, 0, k);
      }
      if (id !== undefined) byId.set(id, k);
      if (f & NLM_F_ECHO) {
        const w = new AttributeWriter();
        writeRule(w, NFT_MSG_NEWRULE, 0, m.header.seq, { ...k.rule, handle: k.handle });
        out.push(w.finish());
      }
      if (f & 4 /* NLM_F_ACK */) out.push(ackFor(m));
    }
    this.chains = chains;
    this.table = table;
    this.hgen = hgen;
    this.generation++;
    return out;
  }
}
