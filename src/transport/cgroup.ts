/**
 * cgroup v2 for BPF_PROG_ATTACH: find the cgroup2 mount (never assumed: a hybrid systemd layout
 * has it at /sys/fs/cgroup/unified, a pure one at /sys/fs/cgroup, a container somewhere else),
 * turn a user's path into a checked directory inside it, open it as an fd for bpf(), and walk
 * the tree within a time bound for listing attachments.
 */
import { readFileSync, readdirSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { posix } from 'node:path';
import { PktmarkError } from '../errors.js';
import { EACCES, ENOENT, ENOTDIR, EPERM, O_CLOEXEC, O_RDONLY, getLibc } from './syscalls.js';

/** include/uapi/linux/magic.h: statfs f_type of a cgroup2 file system */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * O_DIRECTORY differs by architecture: 0o200000 in include/uapi/asm-generic/fcntl.h (x86),
 * 0o40000 in arch/arm64/include/uapi/asm/fcntl.h. Opening a non-directory with it fails ENOTDIR.
 */
export const O_DIRECTORY = process.arch === 'arm64' ? 0o40000 : 0o200000;

export interface Cgroup2Mount {
  /** where it is mounted, e.g. /sys/fs/cgroup/unified */
  readonly mountPoint: string;
  /** which cgroup the mount shows as its root ("/" on a host; a sub-path inside some containers) */
  readonly root: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c show_mountinfo, mangle()) */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The cgroup2 mounts in /proc/self/mountinfo text, in file order. A line is
 * `id parent major:minor root mount-point options [optional…] - fstype source super-options`
 * (Documentation/filesystems/proc.rst 3.5): the fields after " - " start with the type.
 */
export function parseCgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  const out: Cgroup2Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f[dash + 1] !== 'cgroup2') continue;
    out.push({ root: unescape(f[3]), mountPoint: unescape(f[4]) });
  }
  return out;
}

/** The first cgroup2 mount of this process's mount namespace. */
export function findCgroup2Mount(mountinfo?: string): Cgroup2Mount {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const m = parseCgroup2Mounts(text)[0];
  if (!m) {
    throw new PktmarkError('NOT_FOUND', 'no cgroup v2 file system is mounted (none in /proc/self/mountinfo)', {
      field: 'cgroup', hint: 'cgroup socket marks need cgroup v2: mount -t cgroup2 none /sys/fs/cgroup/unified (or boot with systemd.unified_cgroup_hierarchy=1)',
    });
  }
  return m;
}

export interface CgroupPath {
  /** the directory in the file system */
  readonly path: string;
  /** the same, relative to the cgroup2 root, starting with "/" (as /proc/PID/cgroup prints it) */
  readonly relative: string;
}

const bad = (message: string, hint?: string): PktmarkError =>
  new PktmarkError('INVALID_ARGUMENT', message, { field: 'cgroup', ...(hint ? { hint } : {}) });

/**
 * A user's cgroup: an absolute path inside the cgroup2 mount, or a path relative to its root.
 * `..` is refused outright (not resolved): a cgroup path never needs it, and refusing it means no
 * spelling escapes the mount. The result must exist, be a directory and be on cgroup2.
 */
export function resolveCgroupPath(input: string, mount: Cgroup2Mount = findCgroup2Mount()): CgroupPath {
  if (typeof input !== 'string' || input.length === 0) throw bad('cgroup path is empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(input)) throw bad(`cgroup path ${JSON.stringify(input)} contains a control character`);
  let rest = input;
  if (input.startsWith('/')) {
    const m = mount.mountPoint.replace(/\/+$/, '');
    if (input !== m && !input.startsWith(`${m}/`)) {
      throw bad(`${JSON.stringify(input)} is not inside the cgroup v2 hierarchy at ${m}`,
        `give a path under ${m}, or one relative to it (e.g. system.slice/foo.service)`);
    }
    rest = input.slice(m.length);
  }
  const segs = rest.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) throw bad(`cgroup path ${JSON.stringify(input)} contains "..": give the cgroup's own path`);
  const path = posix.join(mount.mountPoint, ...segs);
  let real: string;
  try {
    real = realpathSync(path);
    if (!statSync(real).isDirectory()) throw bad(`${path} is not a cgroup directory`);
  } catch (e) {
    if (e instanceof PktmarkError) throw e;
    throw new PktmarkError('NOT_FOUND', `no cgroup ${path}`, { field: 'cgroup', cause: e, hint: 'create it first (mkdir), or check the path' });
  }
  // A symlink could lead out of the hierarchy; cgroupfs itself has none, but the path's prefix might.
  const realMount = realpathSync(mount.mountPoint);
  if (real !== realMount && !real.startsWith(`${realMount}/`)) throw bad(`${path} resolves to ${real}, outside the cgroup v2 hierarchy`);
  if (Number(statfsSync(real).type) !== CGROUP2_SUPER_MAGIC) throw bad(`${path} is not on a cgroup v2 file system`);
  return { path: real, relative: `/${segs.join('/')}` };
}

/** open(2) the cgroup directory for bpf()'s target_fd; the caller closes it. */
export function openCgroup(path: string): number {
  const c = getLibc();
  const fd = c.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) return fd;
  const errno = c.errno();
  if (errno === ENOENT || errno === ENOTDIR) throw new PktmarkError('NOT_FOUND', `no cgroup directory ${path}`, { field: 'cgroup', errno });
  if (errno === EACCES || errno === EPERM) {
    throw new PktmarkError('EPERM', `open(${path}): permission denied`, { field: 'cgroup', errno, hint: 'attaching to a cgroup needs read access to its directory (run as root)' });
  }
  throw new PktmarkError('SYSCALL', `open(${path}): errno ${errno}`, { field: 'cgroup', errno });
}

export interface CgroupDir {
  readonly path: string;
  /** relative to the walk's root, "/" for the root itself */
  readonly relative: string;
}

/** A walk's directories (iterate once), and after it whether the deadline cut it short. */
export interface CgroupWalk extends Iterable<CgroupDir> {
  /** set when the walk stopped early: how many directories it had yielded */
  readonly stopped: { readonly reason: 'deadline'; readonly visited: number } | undefined;
}

export interface WalkOptions {
  /** stop yielding after this long (default 2000 ms); `stopped` then says so */
  readonly timeoutMs?: number;
  /** the clock, for tests */
  readonly now?: () => number;
}

/**
 * Breadth-first over a cgroup tree, the root first. A directory that vanishes mid-walk (a
 * service stopping) is skipped, not an error. Only real directories are followed: cgroupfs
 * has no symlinks, and following one could loop.
 */
export function walkCgroups(root: string, opts: WalkOptions = {}): CgroupWalk {
  const now = opts.now ?? Date.now;
  const timeout = opts.timeoutMs ?? 2000;
  let stopped: CgroupWalk['stopped'];
  function* walk(): Generator<CgroupDir> {
    const deadline = now() + timeout;
    const queue: CgroupDir[] = [{ path: root, relative: '/' }];
    for (let head = 0; head < queue.length; head++) {
      if (now() > deadline) { stopped = { reason: 'deadline', visited: head }; return; }
      const dir = queue[head];
      yield dir;
      let entries;
      try { entries = readdirSync(dir.path, { withFileTypes: true }); } catch { continue; }
      for (const e of entries) {
        if (e.isDirectory()) queue.push({ path: posix.join(dir.path, e.name), relative: posix.join(dir.relative, e.name) });
      }
    }
  }
  return { [Symbol.iterator]: walk, get stopped() { return stopped; } };
}
