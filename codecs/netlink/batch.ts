import type { AttributeWriter } from './attributes.js';
import { writeMessage, NLM_F_REQUEST } from './message.js';
import { defineStruct } from './struct.js';

/** linux/netfilter/nfnetlink.h */
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNETLINK_V0 = 0;
/**
 * enum nfnl_batch_attributes: BATCH_BEGIN may carry the ruleset generation the batch was computed
 * against (be32, after the nfgenmsg). nfnetlink_rcv_batch() compares it with the nf_tables
 * base_seq and, when another commit moved it, acks the BATCH_BEGIN with -ERESTART and applies
 * nothing. nft 1.0.6 does not send it (fixtures/nft/apply-*.json).
 */
export const NFNL_BATCH_GENID = 1;

export interface NfGenMsg { family: number; version: number; resId: number }
/** struct nfgenmsg: family and version are u8; res_id is big-endian (__be16). */
export const nfgenmsg = defineStruct<NfGenMsg>('nfgenmsg', [
  { name: 'family', type: 'u8' },
  { name: 'version', type: 'u8' },
  { name: 'resId', type: 'u16', order: 'be' },
]);

/**
 * Batch framing: BATCH_BEGIN / BATCH_END carry res_id = NFNL_SUBSYS_NFTABLES so the kernel
 * routes the whole batch to nf_tables and applies it as one transaction (all or nothing).
 */
export function writeBatchBegin(w: AttributeWriter, seq: number, genid?: number): void {
  writeMessage(w, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, (w) => {
    w.struct(nfgenmsg, { family: 0, version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES });
    if (genid !== undefined) w.u32(NFNL_BATCH_GENID, genid, 'be');
  });
}
export function writeBatchEnd(w: AttributeWriter, seq: number): void {
  writeMessage(w, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, (w) =>
    w.struct(nfgenmsg, { family: 0, version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES }));
}
