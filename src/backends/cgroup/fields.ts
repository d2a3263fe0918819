/**
 * The rule fields of the cgroup backend: only `cgroup` (where) and the mark. A CGROUP_SOCK
 * program runs once, when a socket is created, before it has an address, a peer or a packet:
 * there is nothing to match, and a rate would limit sockets, not packets. So every match field
 * and `rate` are refused by name instead of being silently ignored.
 */
import { fail, type MarkRuleInput, type RuleFields } from '../../rule.js';

/** shared fields that mean something per packet, and so nothing at socket creation */
const PER_PACKET: readonly (keyof MarkRuleInput)[] = ['family', 'src', 'dst', 'proto', 'sport', 'dport', 'rate', 'burst'];

/**
 * Syntax only: the path is resolved against the cgroup2 mount (and must exist) when the rule is
 * added, which needs the file system; normalizing stays pure so dry-run and explain work anywhere.
 */
export function parseCgroupField(v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') fail('INVALID_OPTION', 'cgroup', 'via "cgroup" needs cgroup (a cgroup v2 directory, e.g. system.slice/foo.service)');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) fail('INVALID_ARGUMENT', 'cgroup', `cgroup path ${JSON.stringify(v)} contains a control character`);
  if (v.split('/').includes('..')) fail('INVALID_ARGUMENT', 'cgroup', `cgroup path ${JSON.stringify(v)} contains "..": give the cgroup's own path`);
  return v;
}

export const cgroupFields: RuleFields<'cgroup'> = {
  via: 'cgroup',
  fields: ['cgroup'],
  implied: (input) => input.cgroup !== undefined,
  normalize(input, out) {
    for (const f of PER_PACKET) {
      if (input[f] === undefined) continue;
      fail('UNSUPPORTED', f, f === 'rate' || f === 'burst'
        ? `via "cgroup" marks sockets when they are created, not packets: ${f} cannot apply`
        : `via "cgroup" sets the mark of every new socket in the cgroup; it cannot match ${f}`,
      f === 'rate' || f === 'burst' ? "use via: 'nft' or 'bpf' for rate-limited marking" : "match packets with via: 'nft' (e.g. hook: 'output') or via: 'bpf'");
    }
    out.cgroup = parseCgroupField(input.cgroup);
  },
};
