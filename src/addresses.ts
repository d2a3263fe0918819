/**
 * Address matches as iptables takes them: `ADDR`, `ADDR/LEN`, `ADDR/DOTTED-MASK` and `!` in
 * front. A contiguous dotted mask is a prefix (`/255.0.0.0` → `/8`); a non-contiguous one
 * (`/255.0.255.0`) stays a mask, which nft says as `ip saddr & 255.0.255.0 == 10.0.12.0`. As in
 * iptables (xtables_ipparse_multiple), the address is stored with its host bits cleared.
 */
import { canonicalIPv4, formatAddress, parseCidr, parseIPv4, parseIPv6, type Cidr, type Family } from '../codecs/address.js';
import { fail } from './rule.js';

export interface AddressMatch extends Cidr {
  /** `! -s ADDR` in iptables, `ip saddr != ADDR` in nft */
  readonly negate: boolean;
  /**
   * A non-contiguous netmask, in address form (`255.0.255.0`); present only then. `prefix` is
   * then the family's full length and must not be read as the match's width.
   */
  readonly netmask?: string;
}

function prefixOf(mask: Uint8Array): number | undefined {
  let bits = 0;
  let ended = false;
  for (const b of mask) {
    for (let k = 7; k >= 0; k--) {
      const on = (b >> k) & 1;
      if (on && ended) return undefined;
      if (on) bits++; else ended = true;
    }
  }
  return bits;
}

export function parseAddressMatch(v: unknown, field: string): AddressMatch {
  if (typeof v !== 'string') return fail('INVALID_CIDR', field, `${field} must be an address string`);
  // bulk input is mostly plain dotted quads: parseCidr would return exactly this for them
  if (canonicalIPv4(v) >= 0) return { family: 'ip', address: v, prefix: 32, negate: false };
  const t = v.trim();
  const negate = t.charCodeAt(0) === 33; // '!'
  const text = (negate ? t.slice(1) : t).trim();
  const slash = text.indexOf('/');
  const maskText = slash < 0 ? '' : text.slice(slash + 1);
  if (!/[.:]/.test(maskText)) {
    const c = parseCidr(text, field);
    return { family: c.family, address: c.address, prefix: c.prefix, negate };
  }
  const addrText = text.slice(0, slash);
  const family: Family = addrText.includes(':') ? 'ip6' : 'ip';
  const parse = family === 'ip' ? parseIPv4 : parseIPv6;
  const bytes = parse(addrText, field);
  if (maskText.includes(':') !== (family === 'ip6')) fail('INVALID_CIDR', field, `${field} ${JSON.stringify(v)}: the mask is not of the address's family`);
  const mask = parse(maskText, field);
  for (let i = 0; i < bytes.length; i++) bytes[i] &= mask[i];
  const prefix = prefixOf(mask);
  if (prefix !== undefined) {
    const c = parseCidr(`${formatAddress(bytes)}/${prefix}`, field);
    return { family: c.family, address: c.address, prefix: c.prefix, negate };
  }
  return { family, address: formatAddress(bytes), prefix: bytes.length * 8, negate, netmask: formatAddress(mask) };
}

/** The mask bytes of a match (from its netmask or its prefix). */
export function maskBytes(a: AddressMatch, prefixMask: (p: number, len: number) => Uint8Array): Uint8Array {
  const len = a.family === 'ip' ? 4 : 16;
  return a.netmask !== undefined ? (a.family === 'ip' ? parseIPv4(a.netmask) : parseIPv6(a.netmask)) : prefixMask(a.prefix, len);
}

/** `10.0.0.0/8`, `10.0.12.0/255.0.255.0`, `!1.2.3.4`. */
export function formatAddressMatch(a: AddressMatch): string {
  const full = a.family === 'ip' ? 32 : 128;
  const tail = a.netmask !== undefined ? `/${a.netmask}` : a.prefix === full ? '' : `/${a.prefix}`;
  return `${a.negate ? '!' : ''}${a.address}${tail}`;
}
