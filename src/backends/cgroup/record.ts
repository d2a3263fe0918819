/** A cgroup program as a RuleRecord: its rule decoded from the config map, `packets` = sockets marked. */
import { specToInput } from '../ebpf/spec.js';
import { formatMark, normalizeWith, type MarkRule } from '../../rule.js';
import type { Cgroup2Mount } from '../../transport/cgroup.js';
import type { RuleRecord } from '../backend.js';
import { cgroupFields } from './fields.js';
import type { Owned } from './kernel.js';

const text = (id: number, mount: Cgroup2Mount, relative: string, r: MarkRule | undefined): string =>
  `bpftool cgroup attach ${mount.mountPoint.replace(/\/+$/, '')}${relative === '/' ? '' : relative} sock_create id ${id} multi${r ? `  # pktmark_cg: socket mark ${formatMark(r)}${r.xor ? ' xor' : ''}` : ''}`;

/** `source`: the rule just added (with 0 sockets), or what openOwned read from the kernel. */
export function cgroupRecord(id: number, dir: { readonly relative: string }, mount: Cgroup2Mount, source: MarkRule | Owned, sockets?: number): RuleRecord {
  let rule: MarkRule | undefined;
  let packets = sockets ?? 0;
  let raw: RuleRecord['raw'];
  if ('via' in source) {
    rule = source;
  } else {
    packets = Number(source.config?.packets ?? 0n);
    const input = source.config?.spec && specToInput(source.config.spec);
    // a spec with matches (not written by this backend) fails cgroupFields' checks: kept raw
    try { if (input) rule = normalizeWith(cgroupFields, { ...input, via: 'cgroup', cgroup: dir.relative }); } catch { rule = undefined; }
    if (!rule) raw = [{ name: 'pktmark_cfg', bytes: source.raw ?? new Uint8Array() }];
  }
  return { id: `cgroup:${id}`, via: 'cgroup', ...(rule ? { rule } : {}), ...(raw ? { raw } : {}), packets, bytes: 0, text: text(id, mount, dir.relative, rule) };
}
