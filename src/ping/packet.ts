/**
 * ICMP / ICMPv6 echo messages (RFC 792, RFC 4443) and the sockaddr structs to send them.
 * Pure: bytes in, bytes out.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../../codecs/address.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';

export type IpVersion = 4 | 6;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMP_HEADER = 8;

/** RFC 1071 internet checksum (one's complement of the one's complement sum of 16-bit words). */
export function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Payload like iputils: bytes 0..7 are free for the sender (we put nothing time-dependent there:
 * RTTs come from the send times we keep), the rest count up from 8 so corruption is visible.
 */
export function echoPayload(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i + 8) & 0xff;
  return p;
}

/**
 * An echo request. The ICMPv6 checksum covers a pseudo-header with the source address, which the
 * kernel fills in for ICMPv6 raw and ping sockets (RFC 3542 §3.1), so it stays 0 here.
 */
export function encodeEchoRequest(version: IpVersion, id: number, seq: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(ICMP_HEADER + payload.length);
  const v = new DataView(b.buffer);
  b[0] = version === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  v.setUint16(4, id & 0xffff);
  v.setUint16(6, seq & 0xffff);
  b.set(payload, ICMP_HEADER);
  if (version === 4) v.setUint16(2, checksum(b));
  return b;
}

export interface IcmpMessage {
  readonly type: number;
  readonly code: number;
  /** echo identifier / sequence (for errors: of the echo request quoted inside) */
  readonly id: number;
  readonly seq: number;
  /** bytes of the ICMP message (header + body) */
  readonly length: number;
  /** true for destination unreachable / time exceeded about one of our echo requests */
  readonly error: boolean;
}

/** Decode an ICMP(v6) message; for an error, id/seq come from the quoted echo request. */
export function decodeIcmp(version: IpVersion, b: Uint8Array): IcmpMessage | undefined {
  if (b.length < ICMP_HEADER) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = b[0]!;
  const code = b[1]!;
  const isError = version === 4
    ? type === ICMP_DEST_UNREACH || type === ICMP_TIME_EXCEEDED
    : type === ICMPV6_DEST_UNREACH || type === ICMPV6_TIME_EXCEEDED;
  if (!isError) return { type, code, id: v.getUint16(4), seq: v.getUint16(6), length: b.length, error: false };
  // The error quotes the offending IP packet after its own 8-byte header.
  const inner = b.subarray(ICMP_HEADER);
  const innerHeader = version === 4 ? ((inner[0] ?? 0) & 0x0f) * 4 : 40;
  const quoted = inner.subarray(innerHeader);
  const innerProto = version === 4 ? inner[9] : inner[6];
  const echo = version === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  if (inner.length < innerHeader || innerProto !== (version === 4 ? 1 : 58) || quoted.length < ICMP_HEADER || quoted[0] !== echo) return undefined;
  const q = new DataView(quoted.buffer, quoted.byteOffset, quoted.byteLength);
  return { type, code, id: q.getUint16(4), seq: q.getUint16(6), length: b.length, error: true };
}

/** Split an IPv4 packet (what an IPv4 raw socket receives) into its TTL and payload. */
export function stripIPv4(b: Uint8Array): { ttl: number; payload: Uint8Array } | undefined {
  if (b.length < 20 || b[0]! >> 4 !== 4) return undefined;
  const ihl = (b[0]! & 0x0f) * 4;
  if (ihl < 20 || b.length < ihl) return undefined;
  return { ttl: b[8]!, payload: b.subarray(ihl) };
}

/** Text of an ICMP error, as iputils prints it. */
export function describeError(version: IpVersion, type: number, code: number): string {
  if (version === 4) {
    if (type === ICMP_TIME_EXCEEDED) return code === 0 ? 'Time to live exceeded' : 'Frag reassembly time exceeded';
    return ['Destination Net Unreachable', 'Destination Host Unreachable', 'Destination Protocol Unreachable',
      'Destination Port Unreachable', 'Frag needed and DF set', 'Source Route Failed', 'Destination Net Unknown',
      'Destination Host Unknown', 'Source Host Isolated', 'Destination Net Prohibited', 'Destination Host Prohibited',
      'Destination Net Unreachable for Type of Service', 'Destination Host Unreachable for Type of Service',
      'Packet filtered'][code] ?? `Dest Unreachable, Bad Code: ${code}`;
  }
  if (type === ICMPV6_TIME_EXCEEDED) return code === 0 ? 'Time to live exceeded' : 'Frag reassembly time exceeded';
  return ['No route', 'Administratively prohibited', 'Beyond scope of source address', 'Address unreachable',
    'Port unreachable', 'Source address failed ingress/egress policy', 'Reject route to destination'][code] ?? `Dest unreachable, Bad Code: ${code}`;
}

/** struct sockaddr_in (16 bytes) / sockaddr_in6 (28 bytes), port 0: family in host order, the rest big-endian. */
export function encodeSockaddr(version: IpVersion, address: string): Uint8Array {
  const b = new Uint8Array(version === 4 ? 16 : 28);
  new DataView(b.buffer).setUint16(0, version === 4 ? 2 : 10, HOST_LITTLE_ENDIAN);
  if (version === 4) b.set(parseIPv4(address), 4);
  else b.set(parseIPv6(address), 8);
  return b;
}

export function decodeSockaddr(b: Uint8Array, len: number): string | undefined {
  // `len` is the kernel's msg_namelen; never read past the buffer even if it claims more
  len = Math.min(len, b.length);
  if (len < 2) return undefined;
  const family = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(0, HOST_LITTLE_ENDIAN);
  if (family === 2 && len >= 8) return formatIPv4(b.subarray(4, 8));
  if (family === 10 && len >= 24) return formatIPv6(b.subarray(8, 24));
  return undefined;
}

/** The first control message of the given level and type as a host-order int (IP_TTL, IPV6_HOPLIMIT). */
export function findCmsgInt(control: Uint8Array, len: number, level: number, type: number): number | undefined {
  // struct cmsghdr on 64-bit Linux: size_t len, int level, int type, then data aligned to 8.
  const v = new DataView(control.buffer, control.byteOffset, control.byteLength);
  // msg_controllen never exceeds the buffer, but trust neither it nor cmsg_len: a cmsg_len past
  // the end (or a u64 that `& ~7` would wrap to 0 or below) would read out of bounds or loop forever.
  const end = Math.min(len, control.length);
  for (let off = 0; off + 16 <= end;) {
    const cmsgLen = v.getBigUint64(off, HOST_LITTLE_ENDIAN);
    if (cmsgLen < 16n || cmsgLen > BigInt(end - off)) return undefined;
    const n = Number(cmsgLen);
    if (v.getInt32(off + 8, HOST_LITTLE_ENDIAN) === level && v.getInt32(off + 12, HOST_LITTLE_ENDIAN) === type && n >= 20) {
      return v.getInt32(off + 16, HOST_LITTLE_ENDIAN);
    }
    off += Math.ceil(n / 8) * 8;
  }
  return undefined;
}
