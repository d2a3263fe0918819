/**
 * encode()'s bulk path: the same messages as encodeAddBatch (encodeAdd), made while the input is
 * validated, one rule at a time. Nothing keeps a normalized rule once its message is written, so
 * 200,000 rules die young (the scavenger copies none of them, old space does not grow by them)
 * instead of all living until the last is encoded. The rules are encoded first, into 4 MiB
 * buffers (no size guess, no growth copy of a 66 MB buffer); the header (BATCH_BEGIN, the table,
 * the chains the rules use) is written when they are all known. Messages may view different
 * buffers: encode() returns one view per message.
 *
 * Only the bulk shape takes this path: a rule with an address list (its sets go before every
 * rule), a port list (its set goes before its rule), a hole or another backend makes it return
 * undefined, and the caller does the classic normalize-all-then-encodeAdd.
 */
import { AttributeWriter } from '../../../codecs/netlink/attributes.js';
import { BatchWriter } from '../../../codecs/nftables/batch.js';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST } from '../../../codecs/netlink/message.js';
import { NFPROTO_INET, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, nftType, writeTable } from '../../../codecs/nftables/messages.js';
import { HOST_LITTLE_ENDIAN } from '../../../codecs/netlink/struct.js';
import type { MarkRule } from '../../rule.js';
import { RuleEncoder, type WrittenRule } from './template.js';
import { OWNER_COMMENT } from './chains.js';
import { needsSet } from './port-sets.js';
import { ChainsUsed, ruleFlags } from './add-batch.js';

const CHUNK = 4 << 20;
/** a NEWRULE without lists is a few hundred bytes; past this the next one starts a new buffer (a bigger one still fits: the writer grows) */
const ROOM = 16 << 10;

/**
 * `ruleAt(i)`: input i validated (it throws for bad input), undefined for a hole. `firstSeq` is
 * BATCH_BEGIN's; the rest follow one by one, as encodeAdd's counter gives them.
 */
export function encodeAddStream(count: number, ruleAt: (i: number) => MarkRule | undefined, table: string, firstSeq: number): Uint8Array[] | undefined {
  if (count === 0 || firstSeq + count + 1024 > 0xffffffff) return undefined;
  const encoder = new RuleEncoder();
  const msgType = nftType(NFT_MSG_NEWRULE);
  const used = new ChainsUsed();
  const chunks: AttributeWriter[] = [];
  // message i ends at ends[i] in its buffer; starts[c] is the first message of buffer c
  const ends = new Uint32Array(count);
  const starts: number[] = [];
  let w = new AttributeWriter(Math.min(CHUNK, 1024 + count * 384));
  chunks.push(w); starts.push(0);
  let headerCount = -1;
  const flagsBase = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND;
  for (let i = 0; i < count; i++) {
    const rule = ruleAt(i);
    if (rule === undefined || rule.via !== 'nft' || rule.srcList !== undefined || rule.dstList !== undefined || needsSet(rule.sports) || needsSet(rule.dports)) return undefined;
    used.note(rule);
    // the header's length as the first rule sees it; if later rules add chains, the seqs move (below)
    if (headerCount < 0) headerCount = headerLength(used);
    if (w.length + ROOM > w.backing.length) {
      w = new AttributeWriter(Math.min(CHUNK, 1024 + (count - i) * 384));
      chunks.push(w); starts.push(i);
    }
    encoder.write(w, rule, table, ruleFlags(flagsBase, i, count), firstSeq + headerCount + i, msgType);
    ends[i] = w.length;
  }
  const shift = headerLength(used) - headerCount;
  let next = firstSeq;
  const header = new BatchWriter<WrittenRule>(1024, () => next++);
  header.add('table', undefined, (hw, seq) => writeTable(hw, NFT_MSG_NEWTABLE, NLM_F_REQUEST, seq, { family: NFPROTO_INET, name: table, flags: 0, comment: OWNER_COMMENT }));
  used.writeChains(header, table);
  const ruleSeq = next;
  next += count;
  const head = header.finish(ruleSeq + count - 1).messages();
  const out = new Array<Uint8Array>(count + head.length);
  for (let h = 0; h < head.length - 1; h++) out[h] = head[h];
  for (let c = 0; c < chunks.length; c++) {
    const bytes = chunks[c].finish();
    const buf = bytes.buffer, base = bytes.byteOffset;
    const view = shift !== 0 ? new DataView(buf, base, bytes.byteLength) : undefined;
    const last = c + 1 < chunks.length ? starts[c + 1] : count;
    for (let i = starts[c], at = 0; i < last; i++) {
      // a later rule used another chain: the header took more seqs than the first rule implied
      if (view) view.setUint32(at + 8, ruleSeq + i, HOST_LITTLE_ENDIAN);
      out[head.length - 1 + i] = new Uint8Array(buf, base + at, ends[i] - at);
      at = ends[i];
    }
  }
  out[out.length - 1] = head[head.length - 1];
  return out;
}

/** BATCH_BEGIN, NEWTABLE and the chains' NEWCHAINs. */
const headerLength = (used: ChainsUsed): number => 2 + used.count;
