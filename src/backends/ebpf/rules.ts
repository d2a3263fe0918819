/** The checks and translations the bpf and xdp backends share on top of spec.ts. */
import type { Link } from '../../../codecs/tc/link.js';
import { PktmarkError } from '../../errors.js';
import { normalizeWith, type MarkRule, type RuleFields } from '../../rule.js';
import type { RawPart, RuleRecord } from '../backend.js';
import type { Slot } from './set.js';
import { specToInput } from './spec.js';
import { ruleText } from './text.js';

/** iif/oif make no sense on a program that sits on one device: name the field. */
export function checkDeviceRule(r: MarkRule, via: string): void {
  if (r.iif !== undefined) throw new PktmarkError('UNSUPPORTED', `via "${via}": the program sits on one device: use dev`, { field: 'iif' });
  if (r.oif !== undefined) throw new PktmarkError('UNSUPPORTED', `via "${via}": the program sits on one device: use dev${via === 'bpf' ? ' with direction egress' : ''}`, { field: 'oif' });
}

// linux/if_arp.h: devices whose packets start at the IP header (tun, wireguard, ip tunnels)
const L3_TYPES = new Set([65534 /* ARPHRD_NONE */, 519 /* RAWIP */, 768 /* TUNNEL */, 769 /* TUNNEL6 */, 776 /* SIT */, 778 /* IPGRE */]);
/** bytes before the IP header in skb data at tc: 14 (Ethernet, loopback), 0 on an L3 device */
export const linkHeaderLen = (l: Link): 0 | 14 => (L3_TYPES.has(l.type) ? 0 : 14);

/** One list record from a config slot. */
export function slotRecord(id: string, via: MarkRule['via'], fields: RuleFields, where: Record<string, string | number>, whereText: string, s: Slot, extra: Partial<RuleRecord> = {}): RuleRecord {
  const base = { id, via, packets: Number(s.packets), bytes: Number(s.bytes) };
  if (!s.spec) return { ...base, raw: [{ name: `undecodable config slot ${s.slot}: ${s.error}`, bytes: new Uint8Array(0) }], text: `# ${via}: ${whereText}: slot ${s.slot} does not decode`, ...extra };
  const input = specToInput(s.spec);
  let rule: MarkRule | undefined, raw: RawPart[] | undefined;
  if (input) {
    try { rule = normalizeWith(fields, { via, ...where, ...input }); } catch (e) { raw = [{ name: `not a MarkRule: ${(e as Error).message}`, bytes: new Uint8Array(0) }]; }
  } else raw = [{ name: 'port range or negated port (MarkRule has single ports only)', bytes: new Uint8Array(0) }];
  const tag = s.spec.applyTag !== undefined ? { applyTag: { nameHash: s.spec.applyTag } } : {};
  return { ...base, ...(rule ? { rule } : {}), ...(raw ? { raw } : {}), text: ruleText(via, whereText, s.spec), ...tag, ...extra };
}
