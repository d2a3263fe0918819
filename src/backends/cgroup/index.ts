/**
 * The cgroup backend: one BPF_PROG_TYPE_CGROUP_SOCK program per rule, attached at
 * BPF_CGROUP_INET_SOCK_CREATE of a cgroup v2 directory with BPF_F_ALLOW_MULTI (so systemd's and
 * others' programs stay), setting the mark of every socket created there. Each program has its
 * own one-slot config map holding the rule; `list` finds the programs by walking the cgroup tree
 * with BPF_PROG_QUERY and decodes their maps, so no pin or state file is needed.
 *
 * Cgroup attachments belong to the host, not to a network namespace: only a Marker without a
 * netns target touches them. Ids are `cgroup:PROGID`, the kernel's program id, stable while
 * the rule exists (see README.md in this folder).
 */
import { programBytes } from '../ebpf/load.js';
import { ruleToSpec } from '../ebpf/spec.js';
import { disassemble } from '../../../codecs/bpf/disasm.js';
import { CONFIG_MAP_REF, cgroupSockProgram, encodeConfigValue } from '../../../codecs/bpf/programs/index.js';
import { PktmarkError } from '../../errors.js';
import { formatMark, type MarkRule } from '../../rule.js';
import type { Cgroup2Mount } from '../../transport/cgroup.js';
import { realCgroupFs, type CgroupFs } from '../../transport/cgroup-fs.js';
import type { AddOptions, Backend, BackendContext, RuleRecord } from '../backend.js';
import { cgroupFields } from './fields.js';
import { attachRule, checkAttachable, detachFrom, openOwned, release, walkAttachments, type Held } from './kernel.js';
import { probeCgroup } from './probe.js';
import { cgroupRecord } from './record.js';

export const CGROUP_ID_FORMAT = 'cgroup:PROGID';

export function parseCgroupId(id: string): number {
  const m = typeof id === 'string' ? /^cgroup:([1-9]\d{0,9})$/.exec(id) : null;
  const n = m ? Number(m[1]) : NaN;
  if (!m || n > 0xffffffff) throw new PktmarkError('INVALID_ID', `${JSON.stringify(id)} is not a cgroup rule id (${CGROUP_ID_FORMAT}, the kernel's program id, e.g. cgroup:42)`, { field: 'id' });
  return n;
}

const NETNS_HINT = 'cgroup attachments are host-wide, not per network namespace: open a Marker without netns (CLI: without --netns) for cgroup rules';

function refuseInNetns(ctx: BackendContext, field: string, what: string): void {
  if (ctx.netns !== undefined) throw new PktmarkError('INVALID_OPTION', `${what}: this Marker targets network namespace ${String(ctx.netns)}, and cgroup socket marks belong to no namespace`, { field, hint: NETNS_HINT });
}

function refusePlace(opts: AddOptions): void {
  if (opts.before !== undefined || opts.first) {
    throw new PktmarkError('UNSUPPORTED', 'cgroup programs run in attach order and pktmark appends; they cannot be inserted before another rule', { field: opts.first ? 'first' : 'before' });
  }
}

const fsOf = (ctx: BackendContext): CgroupFs => ctx.cgroupFs ?? realCgroupFs;

/** The mount, or undefined when there is none (list and clear then have nothing to do). */
function mountOrNone(fs: CgroupFs): Cgroup2Mount | undefined {
  try { return fs.mount(); } catch (e) { if (e instanceof PktmarkError && e.code === 'NOT_FOUND') return undefined; throw e; }
}

const program = () => cgroupSockProgram({ config: CONFIG_MAP_REF });

export const cgroupBackend: Backend<'cgroup'> = {
  ...cgroupFields,
  summary: 'socket marks for a cgroup v2 directory (CGROUP_SOCK program at sock_create, host-wide)',
  idFormat: CGROUP_ID_FORMAT,
  where: (r) => `cgroup ${r.cgroup}`,
  probe: probeCgroup,

  encodeAdd(rules, _ctx, opts: AddOptions = {}): Uint8Array[] {
    refusePlace(opts);
    // per rule: the program's instructions, with the dry-run placeholder fd 0 where the config
    // map's fd goes (its BPF_LD_IMM64 imm), then the config map value stored in slot 0
    return rules.flatMap((r) => [programBytes(program()), encodeConfigValue(ruleToSpec(r))]);
  },

  async add(rules: readonly MarkRule[], ctx: BackendContext, opts: AddOptions = {}): Promise<RuleRecord[]> {
    refusePlace(opts);
    refuseInNetns(ctx, 'cgroup', 'a cgroup rule cannot be added here');
    const sys = await ctx.bpf();
    const fs = fsOf(ctx);
    const mount = fs.mount();
    // every path and hook first, so that a bad one refuses the whole add before anything loads
    const targets = rules.map((r) => fs.resolve(r.cgroup!, mount));
    for (const t of targets) checkAttachable(sys, fs, mount, t);
    const held: Held[] = [];
    let ok = false;
    try {
      for (const [i, r] of rules.entries()) held.push(attachRule(sys, fs, mount, targets[i], r));
      ok = true;
    } finally {
      // success: only the fds go (the attachments keep the programs); failure: detach too
      for (const h of [...held].reverse()) release(sys, h, !ok);
    }
    return rules.map((r, i) => cgroupRecord(held[i].id, targets[i], mount, { ...r, cgroup: targets[i].relative }, 0));
  },

  async list(ctx: BackendContext): Promise<RuleRecord[]> {
    if (ctx.netns !== undefined) return [];
    const fs = fsOf(ctx);
    const mount = mountOrNone(fs);
    if (!mount) return [];
    const sys = await ctx.bpf();
    const out: RuleRecord[] = [];
    for (const a of walkAttachments(sys, fs, mount)) {
      const o = openOwned(sys, a.progId);
      if (!o) continue;
      try { out.push(cgroupRecord(a.progId, a.dir, mount, o)); } finally { sys.close(o.progFd); }
    }
    return out;
  },

  async delete(ids: readonly string[], ctx: BackendContext): Promise<void> {
    refuseInNetns(ctx, 'id', 'cgroup rules cannot be deleted here');
    const progIds = ids.map(parseCgroupId);
    const sys = await ctx.bpf();
    const fs = fsOf(ctx);
    const owned = new Map<number, number>();
    try {
      // all ids are checked before any is detached
      for (const [i, id] of progIds.entries()) {
        const o = openOwned(sys, id);
        if (!o) throw new PktmarkError('NOT_FOUND', `no pktmark cgroup program ${ids[i]} (no program with that id is loaded, or it is not a pktmark_cg program)`, { field: 'id', messageIndex: i });
        owned.set(id, o.progFd);
      }
      const mount = mountOrNone(fs);
      if (!mount) return; // no cgroup tree: nothing is attached anywhere
      const want = new Set(progIds);
      const found = walkAttachments(sys, fs, mount, (a) => a.filter((x) => want.has(x.progId)).length >= want.size);
      // a program whose cgroup was removed is attached nowhere: it goes when these fds close
      for (const a of found) { const fd = owned.get(a.progId); if (fd !== undefined) detachFrom(sys, fs, a.dir, fd); }
    } finally {
      for (const fd of owned.values()) sys.close(fd);
    }
  },

  async clear(ctx: BackendContext): Promise<void> {
    if (ctx.netns !== undefined) return;
    const fs = fsOf(ctx);
    const mount = mountOrNone(fs);
    if (!mount) return;
    const sys = await ctx.bpf();
    for (const a of walkAttachments(sys, fs, mount)) {
      const o = openOwned(sys, a.progId);
      if (!o) continue;
      try { detachFrom(sys, fs, a.dir, o.progFd); } finally { sys.close(o.progFd); }
    }
  },

  explain(rule: MarkRule): string {
    return [
      `# pktmark_cg: BPF_PROG_TYPE_CGROUP_SOCK at BPF_CGROUP_INET_SOCK_CREATE of cgroup ${rule.cgroup}, attached with BPF_F_ALLOW_MULTI;`,
      `# every new socket there gets mark ${formatMark(rule)}${rule.xor ? ' (xor)' : ''}; the rule is in pktmark_cfg slot 0 (map fd shown as 0 before load)`,
      ...disassemble(program().items),
    ].join('\n');
  },
};
