import type { AttributeWriter } from './attributes.js';
import { writeMessage, NLM_F_REQUEST } from './message.js';
import { defineStruct } from './struct.js';

/** linux/netfilter/nfnetlink.h */
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNETLINK_V0 = 0;

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
export function writeBatchBegin(w: AttributeWriter, seq: number): void {
  writeMessage(w, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, (w) =>
    w.struct(nfgenmsg, { family: 0, version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES }));
}
export function writeBatchEnd(w: AttributeWriter, seq: number): void {
  writeMessage(w, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, (w) =>
    w.struct(nfgenmsg, { family: 0, version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES }));
}
