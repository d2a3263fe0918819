/** The owner cookie on the actions of pktmark's tc filters: how list, delete and apply know their own. */
import type { ApplyTag } from '../backend.js';

/**
 * Ownership: every filter pktmark adds carries a TCA_ACT_COOKIE on its skbedit action:
 * the 7 bytes "pktmark" and one flag byte. The kernel stores the cookie with the action and
 * reports it in every dump, so `list`/`delete`/`clear` can tell pktmark's filters from anyone
 * else's on the same device, in any priority (a reserved priority band would break the cheat
 * sheet's own `prio 1`, and u32 handles are picked by the kernel). Flag bit 0 records that
 * pktmark created the device's clsact qdisc, so the qdisc is removed with the last pktmark
 * filter, and only then, and only if nothing else was attached to it meanwhile. Flag bit 1 records
 * the direction: cls_u32 keeps its hash tables per qdisc, not per block, and a dump of one block
 * lists the nodes of every u32 instance with the same priority on the device — an ingress dump at
 * prio 49152 also shows the egress filter at prio 49152 — so the cookie says where a node belongs.
 */
export const COOKIE_MAGIC = new TextEncoder().encode('pktmark');
export const COOKIE_QDISC_OWNED = 0x01;
export const COOKIE_EGRESS = 0x02;
/**
 * A filter `apply` made carries 16 bytes (TC_COOKIE_MAX_SIZE): the 8 above, the byte 'a', three
 * zero bytes and apply's name hash (big-endian), so apply finds its own filters with no state file.
 */
const COOKIE_APPLY = 0x61;
/**
 * An untagged cookie is one of four byte strings, made once: a bulk add asks for one per rule, and
 * a typed array is among the dearest small objects to make. Shared, so read-only by convention
 * (the encoder copies it into the message).
 */
const untagged: Uint8Array[] = [];
export function ownerCookie(qdiscOwned: boolean, direction: 'ingress' | 'egress' = 'ingress', tag?: ApplyTag): Uint8Array {
  if (!tag) {
    const k = (qdiscOwned ? 1 : 0) | (direction === 'egress' ? 2 : 0);
    return (untagged[k] ??= makeCookie(qdiscOwned, direction));
  }
  return makeCookie(qdiscOwned, direction, tag);
}
function makeCookie(qdiscOwned: boolean, direction: 'ingress' | 'egress', tag?: ApplyTag): Uint8Array {
  const c = new Uint8Array(tag ? 16 : 8);
  c.set(COOKIE_MAGIC);
  c[7] = (qdiscOwned ? COOKIE_QDISC_OWNED : 0) | (direction === 'egress' ? COOKIE_EGRESS : 0);
  if (tag) {
    c[8] = COOKIE_APPLY;
    new DataView(c.buffer).setUint32(12, tag.nameHash >>> 0, false);
  }
  return c;
}
export function parseOwnerCookie(c: Uint8Array | undefined): { qdiscOwned: boolean; direction: 'ingress' | 'egress'; applyTag?: ApplyTag } | undefined {
  if (!c || (c.length !== 8 && c.length !== 16)) return undefined;
  for (let i = 0; i < COOKIE_MAGIC.length; i++) if (c[i] !== COOKIE_MAGIC[i]) return undefined;
  if (c.length === 16 && (c[8] !== COOKIE_APPLY || c[9] !== 0 || c[10] !== 0 || c[11] !== 0)) return undefined;
  const owner = { qdiscOwned: (c[7] & COOKIE_QDISC_OWNED) !== 0, direction: (c[7] & COOKIE_EGRESS) !== 0 ? 'egress' as const : 'ingress' as const };
  return c.length === 16 ? { ...owner, applyTag: { nameHash: new DataView(c.buffer, c.byteOffset, 16).getUint32(12, false) } } : owner;
}
export const cookieHex = (c: Uint8Array): string => Array.from(c, (x) => x.toString(16).padStart(2, '0')).join('');
