/**
 * Seeds from the golden fixtures: every hex string in fixtures/{nft,tc,bpf}/*.json (whatever the
 * fixture schema calls the field, so a schema change does not empty the corpus), split into
 * netlink messages and sorted by what they are, plus bpf instruction streams and the config map
 * values of the bpf fixtures' rules.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseMessages, NLMSG_ERROR, NLMSG_DONE } from '../../codecs/netlink/message.js';
import { encodeConfigValue } from '../../codecs/bpf/programs/config.js';
import { specFromJson, type JsonSpec } from '../../fixtures/bpf/shapes.js';

export interface Corpus {
  /** whole captured buffers (one or more messages) */
  readonly buffers: Uint8Array[];
  /** single messages by key: 'nft:<msg>' (NFT_MSG_* number), 'rt:<type>', 'ack' */
  readonly messages: Map<string, Uint8Array[]>;
  readonly insns: Uint8Array[];
  readonly configValues: Uint8Array[];
  /** the conflicts scan's captured replies (fixtures/conflicts/NAME.json), single messages by file: their protocols' types overlap */
  readonly scanReplies: Map<string, Uint8Array[]>;
}

const HEX = /^(?:[0-9a-f]{2}){8,}$/;

function* strings(v: unknown): Generator<string> {
  if (typeof v === 'string') yield v;
  else if (Array.isArray(v)) for (const x of v) yield* strings(x);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) yield* strings(x);
}

function* specs(v: unknown): Generator<JsonSpec> {
  if (Array.isArray(v)) for (const x of v) yield* specs(x);
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('spec' in o && o.spec && typeof o.spec === 'object' && 'mark' in (o.spec as object)) yield o.spec as JsonSpec;
    for (const x of Object.values(o)) yield* specs(x);
  }
}

const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

function keyOf(type: number): string {
  if (type === NLMSG_ERROR || type === NLMSG_DONE) return 'ack';
  if (type >> 8 === 10) return `nft:${type & 0xff}`;
  return `rt:${type}`;
}

export function loadCorpus(root = new URL('../../fixtures/', import.meta.url)): Corpus {
  const c: Corpus = { buffers: [], messages: new Map(), insns: [], configValues: [], scanReplies: new Map() };
  const seen = new Set<string>();
  for (const dir of ['nft', 'tc', 'bpf']) {
    const d = new URL(`${dir}/`, root);
    for (const f of readdirSync(d).filter((n) => n.endsWith('.json')).sort()) {
      const json: unknown = JSON.parse(readFileSync(new URL(f, d), 'utf8'));
      for (const s of strings(json)) {
        if (!HEX.test(s) || seen.has(s)) continue;
        seen.add(s);
        const b = fromHex(s);
        if (dir === 'bpf') { if (b.length % 8 === 0) c.insns.push(b); continue; }
        c.buffers.push(b);
        let msgs;
        try { msgs = parseMessages(b); } catch { continue; }
        for (const m of msgs) {
          const k = keyOf(m.header.type);
          const one = b.slice(m.offset, m.offset + m.header.len);
          (c.messages.get(k) ?? c.messages.set(k, []).get(k)!).push(one);
        }
      }
      if (dir === 'bpf') {
        for (const j of specs(json)) {
          try { c.configValues.push(encodeConfigValue(specFromJson(j))); } catch { /* a spec the encoder refuses is no seed */ }
        }
      }
    }
  }
  const scan = new URL('conflicts/', root);
  for (const f of readdirSync(scan).filter((n) => n.endsWith('.json')).sort()) {
    const out: Uint8Array[] = [];
    for (const s of strings(JSON.parse(readFileSync(new URL(f, scan), 'utf8')) as unknown)) {
      if (!HEX.test(s)) continue;
      const b = fromHex(s);
      try { for (const m of parseMessages(b)) out.push(b.slice(m.offset, m.offset + m.header.len)); } catch { /* not whole messages */ }
    }
    c.scanReplies.set(f.replace(/\.json$/, ''), out);
  }
  return c;
}
