/**
 * Socket owners from /proc, by file reads only: /proc/PID/fd/N links read `socket:[INODE]`.
 * /proc is the caller's pid namespace's; a socket of a process it cannot see (or may not read,
 * without CAP_SYS_PTRACE) is reported without an owner.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ProcReader } from './types.js';

export const realProc: ProcReader = {
  pids: () => { try { return readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { return []; } },
  fdLinks: (pid) => {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return []; }
    const out: string[] = [];
    for (const fd of fds) { try { out.push(readlinkSync(`/proc/${pid}/fd/${fd}`)); } catch { /* closed meanwhile */ } }
    return out;
  },
  comm: (pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return undefined; } },
};

/** inode → "pid N (comm)" for the inodes asked about; one walk of /proc, stopped once all are found. */
export function socketOwners(proc: ProcReader, inodes: ReadonlySet<number>, deadline: number): Map<number, string> {
  const out = new Map<number, string>();
  if (inodes.size === 0) return out;
  for (const pid of proc.pids()) {
    if (Date.now() > deadline || out.size === inodes.size) break;
    for (const l of proc.fdLinks(pid)) {
      const m = /^socket:\[(\d+)\]$/.exec(l);
      if (!m) continue;
      const ino = Number(m[1]);
      if (inodes.has(ino) && !out.has(ino)) out.set(ino, `pid ${pid} (${proc.comm(pid) ?? '?'})`);
    }
  }
  return out;
}
