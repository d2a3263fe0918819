/**
 * bpf() errno → PktmarkError, shared by the koffi implementation and the fake so both report a
 * failure with the same code, hint and wording. Capability rules are from kernel/bpf/syscall.c
 * (6.x); each hint names the operation and what it needs, because "Operation not permitted"
 * alone does not say which of CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN is missing.
 */
import { getSystemErrorName } from 'node:util';
import { PktmarkError, type PktmarkErrorDetails } from '../errors.js';
import {
  BPF_CMD_NAMES, BPF_MAP_CREATE, BPF_MAP_GET_FD_BY_ID, BPF_OBJ_GET, BPF_OBJ_PIN, BPF_PROG_ATTACH,
  BPF_PROG_DETACH, BPF_PROG_GET_FD_BY_ID, BPF_PROG_GET_NEXT_ID, BPF_MAP_GET_NEXT_ID, BPF_PROG_LOAD, BPF_PROG_QUERY,
} from '../../codecs/bpf/attr.js';
import { EACCES, ENOENT, ENOTSUPP, EPERM } from './syscalls.js';

/** "EPERM", "ENOENT", …; the kernel's internal ENOTSUPP (524) leaks out of bpf() and has no libc name */
export function errnoName(errno: number): string {
  if (errno === ENOTSUPP) return 'ENOTSUPP';
  try { return getSystemErrorName(-errno); } catch { return `errno ${errno}`; }
}

export function bpfCmdName(cmd: number): string {
  return BPF_CMD_NAMES[cmd] ?? `bpf command ${cmd}`;
}

/**
 * Before 5.11 a map or program was charged to RLIMIT_MEMLOCK, and exceeding it was EPERM too
 * (kernel/bpf/syscall.c bpf_charge_memlock): say so, since root can hit it.
 */
const MEMLOCK = 'on kernels before 5.11 EPERM can also mean RLIMIT_MEMLOCK is too low (ulimit -l)';

/** What each command needs, for an EPERM/EACCES hint. */
function capabilityHint(cmd: number): string {
  switch (cmd) {
    case BPF_PROG_LOAD:
      // bpf_prog_load: !bpf_capable() (CAP_BPF or CAP_SYS_ADMIN) is refused for all but the
      // unprivileged types, and is_net_admin_prog_type() (SCHED_CLS, XDP, CGROUP_*, …) also
      // needs CAP_NET_ADMIN or CAP_SYS_ADMIN.
      return `BPF_PROG_LOAD needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN; ${MEMLOCK}`;
    case BPF_MAP_CREATE:
      return `BPF_MAP_CREATE needs CAP_BPF (or CAP_SYS_ADMIN) unless kernel.unprivileged_bpf_disabled is 0; ${MEMLOCK}`;
    case BPF_PROG_GET_FD_BY_ID: case BPF_MAP_GET_FD_BY_ID: case BPF_PROG_GET_NEXT_ID: case BPF_MAP_GET_NEXT_ID:
      // bpf_prog_get_fd_by_id / bpf_map_get_fd_by_id / bpf_obj_get_next_id: capable(CAP_SYS_ADMIN),
      // not CAP_BPF: reaching another process's objects by id is admin-only.
      return `${bpfCmdName(cmd)} needs CAP_SYS_ADMIN (reading programs and maps by id, e.g. ones another process loaded)`;
    case BPF_PROG_ATTACH: case BPF_PROG_DETACH: case BPF_PROG_QUERY:
      // bpf_prog_attach / bpf_prog_detach / bpf_prog_query: bpf_net_capable() (older kernels: capable(CAP_NET_ADMIN))
      return `${bpfCmdName(cmd)} needs CAP_NET_ADMIN (or CAP_SYS_ADMIN)`;
    case BPF_OBJ_PIN: case BPF_OBJ_GET:
      return `${bpfCmdName(cmd)}: the bpffs path's permissions refuse this process`;
    default:
      return `${bpfCmdName(cmd)}: the fd's access mode (BPF_F_RDONLY/WRONLY) or kernel.unprivileged_bpf_disabled refuses this process (CAP_BPF or CAP_SYS_ADMIN)`;
  }
}

/** ENOENT means "not found" for the id and path look-ups and for a detach of what is not attached. */
const NOT_FOUND_CMDS = new Set([BPF_PROG_GET_FD_BY_ID, BPF_MAP_GET_FD_BY_ID, BPF_OBJ_GET, BPF_PROG_DETACH]);

/** The typed error for a failed bpf(cmd): EPERM/EACCES → EPERM with a hint, ENOENT on a look-up → NOT_FOUND, else SYSCALL. */
export function bpfError(cmd: number, errno: number, details: Pick<PktmarkErrorDetails, 'field' | 'hint'> & { what?: string } = {}): PktmarkError {
  const op = bpfCmdName(cmd);
  const what = details.what ? ` ${details.what}` : '';
  const base = { errno, ...(details.field ? { field: details.field } : {}) };
  if (errno === EPERM || errno === EACCES) {
    return new PktmarkError('EPERM', `${op}${what}: ${errnoName(errno)} (errno ${errno})`, { ...base, hint: details.hint ?? capabilityHint(cmd) });
  }
  if (errno === ENOENT && NOT_FOUND_CMDS.has(cmd)) {
    return new PktmarkError('NOT_FOUND', `${op}${what}: no such object (ENOENT)`, { ...base, ...(details.hint ? { hint: details.hint } : {}) });
  }
  return new PktmarkError('SYSCALL', `${op}${what}: ${errnoName(errno)} (errno ${errno})`, { ...base, ...(details.hint ? { hint: details.hint } : {}) });
}

/** How much of a verifier log goes into the message; the whole log is on `.log`. */
const MESSAGE_LOG_TAIL = 8192;

/** A program the verifier refused. `log` is the verifier's whole text (log_level 1). */
export class BpfVerifierError extends PktmarkError {
  readonly log: string;
  readonly truncated: boolean;
  constructor(name: string, errno: number, log: string, truncated: boolean) {
    const shown = log.length > MESSAGE_LOG_TAIL ? `…(${log.length - MESSAGE_LOG_TAIL} characters before this omitted)\n${log.slice(-MESSAGE_LOG_TAIL)}` : log;
    super('BPF_VERIFIER',
      `BPF_PROG_LOAD: the verifier rejected program ${JSON.stringify(name)} (${errnoName(errno)})${truncated ? ' [log truncated]' : ''}:\n${shown.trimEnd()}`,
      { errno, hint: 'the log above is the kernel verifier\'s; its last lines say which instruction failed and why' });
    this.log = log;
    this.truncated = truncated;
  }
}
