/**
 * The packet parse shared by the tc marker and the XDP program: read the headers once, copy the
 * fields every rule may test onto the stack, then run the rules against the stack copy. Rules
 * then never touch packet pointers, so helper calls between rules cannot invalidate them, and
 * one match emitter serves both program types.
 *
 * Stack frame (R10-relative; all zeroed first, because the verifier refuses to read a stack
 * slot no path has written — the L4 fields are written only when the packet has ports):
 */
import { Add, And, LSh, Mov, Sub, toBE } from '../alu.js';
import { JEq, JGT, JLT, JNE, ja } from '../jump.js';
import { label, R1, R2, R3, R4, R5, R6, RFP, type Item } from '../insn.js';
import { loadMem, storeImm, storeMem } from '../load-store.js';
import { PORT_PROTOS } from './config.js';

export const FP = {
  matched: -72, //  u32 XDP: some rule matched
  length: -68, //   u32 XDP: packet length (data_end - data)
  l4ok: -64, //     u32 1 when sport/dport were read
  key: -60, //      u32 the map key of a lookup
  src: -56, //      u8[16] network order
  dst: -40, //      u8[16]
  family: -24, //   u32 4 or 6
  proto: -20, //    u32 IPv4 protocol / IPv6 next header
  sport: -16, //    u32 host order
  dport: -12, //    u32 host order
  accValue: -8, //  u32 XDP: composed mark value
  accMask: -4, //   u32 XDP: composed mark mask
} as const;
const FRAME = 72;

// offsets in the context structs, include/uapi/linux/bpf.h
export const SKB = { len: 0, mark: 8, protocol: 16, data: 76, dataEnd: 80, dataMeta: 140 } as const;
export const XDP_MD = { data: 0, dataEnd: 4, dataMeta: 8 } as const;

const ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd, ETH_P_8021Q = 0x8100, ETH_P_8021AD = 0x88a8;
const ETH_HLEN = 14, VLAN_HLEN = 4;

/** `*(u64 *)(r10 -8k) = 0` over the whole frame */
export function zeroFrame(): Item[] {
  const out: Item[] = [];
  for (let off = -8; off >= -FRAME; off -= 8) out.push(storeImm(RFP, off, 0, 'DW'));
  return out;
}

/**
 * Preamble of the tc marker, R6 = skb. cls_bpf runs with skb->data at the link header on ingress
 * and egress alike (cls_bpf_classify pushes mac_len back on ingress), so the L3 header is
 * `linkHeaderLen` bytes in (14 for Ethernet, 0 for an L3 device). The family comes from
 * skb->protocol (a __be16 in a u32), not from the frame, so a hardware-stripped VLAN tag costs
 * nothing; a tag still in the frame makes skb->protocol 802.1Q, and such packets pass untouched.
 * Leaves R2 = L3 header, R3 = data_end; jumps to `v4`/`v6`, or to `done` for anything else.
 */
export function skbPreamble(linkHeaderLen: number, done: string): Item[] {
  return [
    loadMem(R2, R6, SKB.data, 'W'),
    loadMem(R3, R6, SKB.dataEnd, 'W'),
    loadMem(R4, R6, SKB.protocol, 'W'),
    toBE(R4, 16),
    ...(linkHeaderLen ? [Add.imm(R2, linkHeaderLen)] : []),
    JEq.imm32(R4, ETH_P_IP, 'v4'),
    JEq.imm32(R4, ETH_P_IPV6, 'v6'),
    ja(done),
  ];
}

/**
 * Preamble of the XDP program, R6 = xdp_md: the raw Ethernet frame, with one 802.1Q/802.1ad tag
 * skipped (a second, inner tag is not: such frames pass untouched). Stores the frame length.
 */
export function xdpPreamble(done: string): Item[] {
  return [
    loadMem(R2, R6, XDP_MD.data, 'W'),
    loadMem(R3, R6, XDP_MD.dataEnd, 'W'),
    // pkt_end - pkt is a scalar; the verifier allows pointer subtraction for privileged loaders only
    Mov.reg(R1, R3),
    Sub.reg(R1, R2),
    storeMem(RFP, FP.length, R1, 'W'),
    Mov.reg(R5, R2),
    Add.imm(R5, ETH_HLEN),
    JGT.reg(R5, R3, done),
    loadMem(R4, R2, 12, 'H'),
    toBE(R4, 16),
    JEq.imm32(R4, ETH_P_8021Q, 'vlan'),
    JEq.imm32(R4, ETH_P_8021AD, 'vlan'),
    ja('ethertype'),
    label('vlan'),
    Mov.reg(R5, R2),
    Add.imm(R5, ETH_HLEN + VLAN_HLEN),
    JGT.reg(R5, R3, done),
    loadMem(R4, R2, 16, 'H'),
    toBE(R4, 16),
    Add.imm(R2, VLAN_HLEN),
    label('ethertype'),
    Add.imm(R2, ETH_HLEN),
    JEq.imm32(R4, ETH_P_IP, 'v4'),
    JEq.imm32(R4, ETH_P_IPV6, 'v6'),
    ja(done),
  ];
}

/**
 * IPv4/IPv6 header → stack, then the L4 ports when the protocol has them; ends at label `rules`.
 * Expects R2 = L3 header, R3 = data_end. Limits: IPv4 options are skipped by IHL; IPv6 uses the
 * fixed header's next header only (extension headers are not walked, so a port rule does not
 * match behind one); a later IPv4 fragment has no ports. Without `withPorts` (no rule tests a
 * port) the L4 part is left out.
 */
export function parseL3L4(done: string, withPorts: boolean): Item[] {
  const out: Item[] = [
    label('v4'),
    Mov.reg(R5, R2),
    Add.imm(R5, 20),
    JGT.reg(R5, R3, done),
    loadMem(R1, R2, 0, 'B'),
    And.imm(R1, 0x0f),
    LSh.imm(R1, 2), // IHL in bytes
    JLT.imm(R1, 20, done),
    storeImm(RFP, FP.family, 4, 'W'),
    loadMem(R5, R2, 9, 'B'),
    storeMem(RFP, FP.proto, R5, 'W'),
    loadMem(R5, R2, 12, 'W'),
    storeMem(RFP, FP.src, R5, 'W'),
    loadMem(R5, R2, 16, 'W'),
    storeMem(RFP, FP.dst, R5, 'W'),
    ...(withPorts ? [
      loadMem(R5, R2, 6, 'H'),
      toBE(R5, 16),
      And.imm(R5, 0x1fff), // fragment offset: a later fragment carries no L4 header
      JNE.imm(R5, 0, 'rules'),
      Add.reg(R2, R1),
      ja('l4'),
    ] : [ja('rules')]),
    label('v6'),
    Mov.reg(R5, R2),
    Add.imm(R5, 40),
    JGT.reg(R5, R3, done),
    storeImm(RFP, FP.family, 6, 'W'),
    loadMem(R5, R2, 6, 'B'),
    storeMem(RFP, FP.proto, R5, 'W'),
  ];
  for (let k = 0; k < 8; k++) {
    out.push(loadMem(R5, R2, 8 + 4 * k, 'W'), storeMem(RFP, (k < 4 ? FP.src : FP.dst) + 4 * (k % 4), R5, 'W'));
  }
  if (!withPorts) {
    out.push(label('rules'));
    return out;
  }
  out.push(Add.imm(R2, 40), label('l4'), loadMem(R5, RFP, FP.proto, 'W'));
  for (const p of PORT_PROTOS) out.push(JEq.imm32(R5, p, 'ports'));
  out.push(
    ja('rules'),
    label('ports'),
    Mov.reg(R5, R2),
    Add.imm(R5, 4),
    JGT.reg(R5, R3, 'rules'),
    loadMem(R5, R2, 0, 'H'),
    toBE(R5, 16),
    storeMem(RFP, FP.sport, R5, 'W'),
    loadMem(R5, R2, 2, 'H'),
    toBE(R5, 16),
    storeMem(RFP, FP.dport, R5, 'W'),
    storeImm(RFP, FP.l4ok, 1, 'W'),
    label('rules'),
  );
  return out;
}
