/**
 * Every decoder pktmark has, as a fuzz target: a name, its seeds (from the golden fixtures, or
 * synthesized where the fixtures hold none) and a function that feeds it one input. A target's
 * run goes as far as pktmark itself would with bytes read from the kernel: a dumped rule is
 * decoded, turned back into a MarkRule record and printed; a dumped filter becomes a rule.
 * The only thing any of them may throw is a PktmarkError.
 */
import { AttributeReader, AttributeWriter, nestedReader, type Attribute } from '../../codecs/netlink/attributes.js';
import { decodeAck, kernelError, parseMessages, type NetlinkMessage, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, writeMessage } from '../../codecs/netlink/message.js';
import { nlmsghdr } from '../../codecs/netlink/message.js';
import { decodeTable, decodeChain, decodeRule } from '../../codecs/nftables/messages.js';
import { decodeSet, decodeSetElems, decodeUdata, decodeSetUserdata } from '../../codecs/nftables/set.js';
import { decodeUserdata, onlyComment } from '../../codecs/nftables/userdata.js';
import { decodeExpr, EXPRESSIONS, NFTA_LIST_ELEM } from '../../codecs/nftables/expr/index.js';
import { decodeFilter } from '../../codecs/tc/filter.js';
import { decodeQdisc } from '../../codecs/tc/qdisc.js';
import { decodeLink, encodeGetLinkByName } from '../../codecs/tc/link.js';
import { decodeClassifier } from '../../codecs/tc/classifiers/index.js';
import { decodeSelector } from '../../codecs/tc/classifiers/u32.js';
import { decodeActions, skbedit, police } from '../../codecs/tc/actions/index.js';
import { TCA_ACT_KIND, TCA_ACT_OPTIONS, TCA_OPTIONS } from '../../codecs/tc/constants.js';
import { decodeInsns, disassemble, formatInsn } from '../../codecs/bpf/disasm.js';
import { decodeConfigValue, CONFIG_VALUE_SIZE } from '../../codecs/bpf/programs/config.js';
import { ruleRecord } from '../../src/backends/nft/index.js';
import { filterToRule, parseOwnerCookie } from '../../src/backends/tc/rule.js';
import { decodeIcmp, decodeSockaddr, findCmsgInt, stripIPv4 } from '../../src/ping/packet.js';
import { decodeFibRule } from '../../codecs/rtnetlink/rule.js';
import { decodeXfrm } from '../../codecs/xfrm/xfrm.js';
import { decodeFamilyId } from '../../codecs/genl/genl.js';
import { decodeIpvsService } from '../../codecs/genl/ipvs.js';
import { decodeWgDevice } from '../../codecs/genl/wireguard.js';
import { decodeInetDiag } from '../../codecs/sockdiag/inet-diag.js';
import { decodeXtExpr } from '../../codecs/nftables/xt-info.js';
import { decodeConnmarkAction } from '../../codecs/tc/actions/connmark.js';
import { decodeCtinfoAction } from '../../codecs/tc/actions/ctinfo.js';
import { PktmarkError } from '../../codecs/errors.js';
import type { Corpus } from './corpus.js';

export interface Target {
  readonly name: string;
  readonly seeds: readonly Uint8Array[];
  run(input: Uint8Array): void;
}

const NFGENMSG = 4, TCMSG = 20;
const NLA = 4;

/** One message whatever its length field says: header from the first 16 bytes, the rest its payload. */
export function asMessage(b: Uint8Array): NetlinkMessage {
  const h = new Uint8Array(16);
  h.set(b.subarray(0, 16));
  return { header: nlmsghdr.decode(h), payload: b.subarray(16), offset: 0 };
}

/** Walk a TLV tree as deep as it parses: the generic attribute parser under every shape. */
function walk(r: AttributeReader, depth: number): void {
  for (const a of r) {
    // descend only where a nest could start (a plausible first header), as a real decoder would
    const first = a.data.length >= NLA ? a.data[0]! | (a.data[1]! << 8) : 0;
    if (depth < 8 && first >= NLA && first <= a.data.length) {
      try { walk(nestedReader(a), depth + 1); } catch { /* not every payload is a nest */ }
    }
  }
}

function attrsOf(b: Uint8Array, at: number): Attribute[] {
  try { return new AttributeReader(b.subarray(at)).list(); } catch { return []; }
}
function nested(a: Attribute): Attribute[] {
  try { return nestedReader(a).list(); } catch { return []; }
}
const str = (a: Attribute | undefined): string | undefined => {
  if (!a) return undefined;
  const z = a.data.indexOf(0);
  return new TextDecoder().decode(z < 0 ? a.data : a.data.subarray(0, z));
};

/** Seeds for the inner decoders, cut out of the fixture messages. */
function innerSeeds(c: Corpus) {
  const exprs = new Map<string, Uint8Array[]>();
  for (const m of c.messages.get('nft:6') ?? []) {
    for (const a of attrsOf(m, 16 + NFGENMSG)) {
      if (a.type === 4) { // NFTA_RULE_EXPRESSIONS
        for (const e of nested(a)) {
          const parts = nested(e);
          const name = str(parts.find((p) => p.type === 1));
          const data = parts.find((p) => p.type === 2);
          if (name && data) (exprs.get(name) ?? exprs.set(name, []).get(name)!).push(data.data.slice());
        }
      }
      if (a.type === 7) exprs.set('#userdata', [...(exprs.get('#userdata') ?? []), a.data.slice()]); // NFTA_RULE_USERDATA
    }
  }
  const setUserdata: Uint8Array[] = [];
  for (const m of c.messages.get('nft:9') ?? []) {
    for (const a of attrsOf(m, 16 + NFGENMSG)) if (a.type === 13) setUserdata.push(a.data.slice()); // NFTA_SET_USERDATA
  }
  const u32: Uint8Array[] = [], sel: Uint8Array[] = [], acts: Uint8Array[] = [];
  const actOpts = new Map<string, Uint8Array[]>();
  for (const m of c.messages.get('rt:44') ?? []) {
    for (const a of attrsOf(m, 16 + TCMSG)) {
      if (a.type !== TCA_OPTIONS) continue;
      u32.push(a.data.slice());
      for (const o of nested(a)) {
        if (o.type === 5) sel.push(o.data.slice()); // TCA_U32_SEL
        if (o.type !== 7) continue; // TCA_U32_ACT
        acts.push(o.data.slice());
        for (const act of nested(o)) {
          const parts = nested(act);
          const kind = str(parts.find((p) => p.type === TCA_ACT_KIND));
          const opts = parts.find((p) => p.type === TCA_ACT_OPTIONS);
          if (kind && opts) (actOpts.get(kind) ?? actOpts.set(kind, []).get(kind)!).push(opts.data.slice());
        }
      }
    }
  }
  return { exprs, setUserdata, u32, sel, acts, actOpts };
}

/** NFTA_LIST_ELEM { NAME name, DATA <input> } parsed back as the attribute decodeExpr takes. */
function exprElem(name: string, data: Uint8Array): Attribute {
  const w = new AttributeWriter(64 + data.length);
  w.nested(NFTA_LIST_ELEM, () => { w.string(1, name); w.nested(2, () => w.raw(data)); });
  return new AttributeReader(w.finish()).list()[0]!;
}

/** Acks the kernel sends: plain, with the request echoed, capped with ext-ack TLVs. */
function ackSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const flags of [0, NLM_F_CAPPED | NLM_F_ACK_TLVS, NLM_F_ACK_TLVS]) {
    const w = new AttributeWriter(128);
    writeMessage(w, NLMSG_ERROR, flags, 1, () => {
      const at = w.reserve(4); w.patchU32(at, (-22) >>> 0);
      const h = w.reserve(16); w.patchU32(h, flags & NLM_F_CAPPED ? 16 : 28); w.patchU16(h + 4, 0xa06);
      if (!(flags & NLM_F_CAPPED)) w.raw(new Uint8Array(12));
      if (flags & NLM_F_ACK_TLVS) { w.string(1, 'Failed to load TC action module'); w.u32(2, 36); w.u32(5, 3); }
    });
    out.push(w.finish().slice());
  }
  return out;
}

function linkSeeds(): Uint8Array[] {
  const w = new AttributeWriter(64);
  encodeGetLinkByName(w, 1, 'veth0');
  return [w.finish().slice()];
}

/** The attribute run of a message: after nlmsghdr and its family header (nfgenmsg, tcmsg, ifinfomsg). */
function attributesOf(m: Uint8Array): Uint8Array {
  const type = m[4]! | (m[5]! << 8);
  const family = type >> 8 === 10 ? NFGENMSG : type >= 36 && type <= 46 ? TCMSG : type === 16 || type === 18 ? 16 : 4;
  return m.subarray(16 + family);
}

export function targets(c: Corpus): Target[] {
  const msgs = (...keys: string[]): Uint8Array[] => keys.flatMap((k) => c.messages.get(k) ?? []);
  const inner = innerSeeds(c);
  const allMessages = [...c.messages.values()].flat();
  const list: Target[] = [
    { name: 'netlink.messages', seeds: c.buffers, run: (b) => { parseMessages(b); } },
    { name: 'netlink.attributes', seeds: allMessages.map(attributesOf), run: (b) => walk(new AttributeReader(b), 0) },
    {
      name: 'netlink.ack', seeds: [...msgs('ack'), ...ackSeeds()],
      run: (b) => { const ack = decodeAck(asMessage(b)); kernelError('fuzz', ack).toLine(); },
    },
    { name: 'nft.table', seeds: msgs('nft:0', 'nft:1', 'nft:2'), run: (b) => { decodeTable(asMessage(b)); } },
    { name: 'nft.chain', seeds: msgs('nft:3', 'nft:4', 'nft:5'), run: (b) => { decodeChain(asMessage(b)); } },
    {
      name: 'nft.rule', seeds: msgs('nft:6', 'nft:7', 'nft:8'),
      // as `list` reads it: decoded, back to a MarkRule (or raw parts) and printed
      run: (b) => { const r = decodeRule(asMessage(b)); void ruleRecord(r, 'pktmark').text; },
    },
    {
      name: 'nft.set', seeds: msgs('nft:9', 'nft:10', 'nft:11'),
      run: (b) => { const s = decodeSet(asMessage(b)); if (s.userdata) decodeSetUserdata(s.userdata); },
    },
    { name: 'nft.setelem', seeds: msgs('nft:12', 'nft:13', 'nft:14'), run: (b) => { decodeSetElems(asMessage(b)); } },
    {
      name: 'nft.userdata', seeds: [...(inner.exprs.get('#userdata') ?? []), ...inner.setUserdata],
      run: (b) => { onlyComment(decodeUserdata(b, 0)); decodeUdata(b); decodeSetUserdata(b); },
    },
    ...[...EXPRESSIONS.keys(), 'unknownexpr'].map((name): Target => ({
      name: `nft.expr.${name}`,
      seeds: inner.exprs.get(name) ?? [...inner.exprs.entries()].filter(([k]) => !k.startsWith('#')).flatMap(([, v]) => v),
      run: (b) => { decodeExpr(exprElem(name, b)); },
    })),
    {
      name: 'tc.filter', seeds: msgs('rt:44', 'rt:45', 'rt:46'),
      run: (b) => { filterToRule(decodeFilter(asMessage(b)), 'd0', 'ingress'); },
    },
    { name: 'tc.qdisc', seeds: msgs('rt:36', 'rt:37', 'rt:38'), run: (b) => { decodeQdisc(asMessage(b)); } },
    { name: 'tc.link', seeds: [...msgs('rt:16', 'rt:18'), ...linkSeeds()], run: (b) => { decodeLink(asMessage(b)); } },
    { name: 'tc.u32', seeds: inner.u32, run: (b) => { decodeClassifier('u32', new AttributeReader(b), b); } },
    { name: 'tc.u32.selector', seeds: inner.sel, run: (b) => { decodeSelector(b); } },
    { name: 'tc.actions', seeds: inner.acts, run: (b) => { decodeActions(new AttributeReader(b)); } },
    { name: 'tc.skbedit', seeds: inner.actOpts.get('skbedit') ?? inner.acts, run: (b) => { skbedit.decode(new AttributeReader(b)); } },
    { name: 'tc.police', seeds: inner.actOpts.get('police') ?? inner.acts, run: (b) => { police.decode(new AttributeReader(b)); } },
    {
      name: 'bpf.insns', seeds: c.insns,
      run: (b) => { for (const i of decodeInsns(b)) formatInsn(i); disassemble(b); },
    },
    {
      name: 'bpf.config', seeds: c.configValues.length ? c.configValues : [new Uint8Array(CONFIG_VALUE_SIZE)],
      run: (b) => { decodeConfigValue(b); },
    },
    {
      // what the tc backend reads back from an action cookie, and what ping reads from a raw socket
      name: 'received.misc', seeds: [...c.insns.map((x) => x.subarray(0, 64)), Uint8Array.from([7, 0x70, 0x6b, 0x74, 0x6d, 0x61, 0x72, 0x6b, 1])],
      run: (b) => {
        parseOwnerCookie(b);
        decodeIcmp(4, b); decodeIcmp(6, b); stripIPv4(b);
        const len = b.length ? b[0]! : 0;
        decodeSockaddr(b, len); decodeSockaddr(b, b.length);
        findCmsgInt(b, b.length, 0, 2); findCmsgInt(b, len, 41, 52);
      },
    },
    // the conflicts scan's decoders (issue 12), seeded with the kernel's replies captured for it
    { name: 'scan.ip-rule', seeds: c.scanReplies.get('ip-rules') ?? [], run: (b) => { decodeFibRule(asMessage(b)); } },
    { name: 'scan.xfrm', seeds: c.scanReplies.get('xfrm-policy') ?? [], run: (b) => { decodeXfrm(asMessage(b)); } },
    { name: 'scan.sock-diag', seeds: c.scanReplies.get('udp-sockets') ?? [], run: (b) => { decodeInetDiag(asMessage(b)); } },
    {
      name: 'scan.genl', seeds: c.scanReplies.get('wireguard-vm') ?? [],
      run: (b) => { const m = asMessage(b); for (const d of [decodeFamilyId, decodeWgDevice, decodeIpvsService]) { try { d(m); } catch (e) { if (!(e instanceof PktmarkError)) throw e; } } },
    },
    { name: 'scan.xt-info', seeds: [...(inner.exprs.get('target') ?? []), ...(inner.exprs.get('match') ?? [])], run: (b) => { decodeXtExpr(b); } },
    { name: 'scan.tc-connmark', seeds: inner.acts, run: (b) => { decodeConnmarkAction(b); } },
    { name: 'scan.tc-ctinfo', seeds: inner.acts, run: (b) => { decodeCtinfoAction(b); } },
  ];
  return list.filter((t) => t.seeds.length > 0);
}
