import { packKey, type U32Key } from './u32.js';

/**
 * The keys iproute2's f_u32.c builds for its `match ip …` / `match ip6 …` words, so a selector
 * pktmark writes is the one `tc` would. Offsets are from the network header; u32 compares whole
 * aligned 32-bit words, so a 16-bit or 8-bit field becomes a masked word:
 *   ip:  protocol → word 8, mask 00ff0000; src → 12; dst → 16; sport/dport → 20 (ffff0000 / 0000ffff,
 *        assuming no IP options, exactly like `match ip dport`)
 *   ip6: nexthdr → word 4, mask 0000ff00; src → 8..20; dst → 24..36; ports → 40 (no extension headers)
 */
export const IP4 = { protocol: 8, src: 12, dst: 16, ports: 20 } as const;
export const IP6 = { nexthdr: 4, src: 8, dst: 24, ports: 40 } as const;

const word = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const prefixWordMask = (bits: number): number => (bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0);

/** `match ip src|dst A/P` (4 address bytes) or `match ip6 src|dst A/P` (16): one key per word the prefix touches. */
export function addressKeys(keys: U32Key[], addr: Uint8Array, prefix: number, off: number): void {
  for (let i = 0; i * 32 < prefix; i++) {
    const mask = prefixWordMask(prefix - 32 * i);
    packKey(keys, { mask, val: (word(addr, 4 * i) & mask) >>> 0, off: off + 4 * i, offmask: 0 });
  }
}

/** addressKeys for an IPv4 address given as its big-endian word: the same key, no byte array. */
export function ipv4Key(keys: U32Key[], addr: number, prefix: number, off: number): void {
  if (prefix <= 0) return;
  const mask = prefixWordMask(prefix);
  packKey(keys, { mask, val: (addr & mask) >>> 0, off, offmask: 0 });
}

/** `match ip protocol N 0xff` / `match ip6 protocol N 0xff` */
export function protocolKey(keys: U32Key[], family: 'ip' | 'ip6', proto: number): void {
  if (family === 'ip') packKey(keys, { mask: 0x00ff0000, val: (proto << 16) >>> 0, off: IP4.protocol, offmask: 0 });
  else packKey(keys, { mask: 0x0000ff00, val: proto << 8, off: IP6.nexthdr, offmask: 0 });
}

/** `match ip sport N 0xffff` / `match ip dport N 0xffff` (and ip6) */
export function portKey(keys: U32Key[], family: 'ip' | 'ip6', which: 'sport' | 'dport', port: number): void {
  const off = family === 'ip' ? IP4.ports : IP6.ports;
  if (which === 'sport') packKey(keys, { mask: 0xffff0000, val: (port << 16) >>> 0, off, offmask: 0 });
  else packKey(keys, { mask: 0x0000ffff, val: port, off, offmask: 0 });
}

/** Number of leading one bits if `mask` is a prefix mask, else -1. */
export function prefixLength(mask: number): number {
  const m = mask >>> 0;
  let n = 0;
  while (n < 32 && (m & (0x80000000 >>> n)) !== 0) n++;
  return ((prefixWordMask(n) ^ m) >>> 0) === 0 ? n : -1;
}
