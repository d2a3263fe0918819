/**
 * Opening a network namespace file so the path cannot be turned against the caller. The path
 * comes from the user (`--netns`, `Marker.open({ netns })`), and open(2) of the wrong kind of
 * file has effects of its own: a FIFO blocks open() — and with it the event loop — until a
 * writer appears; a tty opened without O_NOCTTY can become the process's controlling terminal;
 * a device file may act on open. So:
 *   1. statfs(path) first: anything that is not on nsfs is refused without being opened;
 *   2. open with O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC, so even a file swapped in after the
 *      check cannot block, become the terminal, or leak into a child;
 *   3. fstatfs(fd) is the check that counts (it is about the file actually opened): NSFS_MAGIC,
 *      or the fd is closed and the target refused — before setns ever sees it.
 * Whether the nsfs file is a *network* namespace is left to setns(fd, CLONE_NEWNET), whose
 * EINVAL netns.ts reports as INVALID_NETNS too.
 */
import { ENOENT, isPermissionErrno } from '../../codecs/errno.js';
import { PktmarkError } from '../errors.js';
import { NSFS_MAGIC, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDONLY, STATFS_SIZE, fsType, getLibc, type Libc } from './syscalls.js';

export const NETNS_OPEN_FLAGS = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

function refuse(target: string, path: string, why: string, errno?: number): PktmarkError {
  const perm = errno !== undefined && isPermissionErrno(errno);
  return new PktmarkError(perm ? 'EPERM' : 'INVALID_NETNS', `netns ${JSON.stringify(target)} (${path}) ${why}`, {
    field: 'netns',
    ...(errno !== undefined ? { errno } : {}),
    ...(errno === ENOENT ? { hint: 'list namespaces with `ip netns list`' } : {}),
    ...(perm ? { hint: 'needs root or CAP_SYS_ADMIN to enter a namespace' } : {}),
  });
}

const NOT_NSFS = 'is not a namespace file (nsfs): give a name from `ip netns list`, /proc/PID/ns/net, or a pid';

/** An fd for the namespace file at `path`, checked to be on nsfs. The caller closes it. */
export function openNetnsFile(target: string, path: string, c: Libc = getLibc()): number {
  const buf = new Uint8Array(STATFS_SIZE);
  if (c.statfs(path, buf) < 0) {
    const errno = c.errno();
    throw refuse(target, path, errno === ENOENT ? 'does not exist' : c.strerror(errno), errno);
  }
  if (fsType(buf) !== NSFS_MAGIC) throw refuse(target, path, NOT_NSFS);
  const fd = c.open(path, NETNS_OPEN_FLAGS);
  if (fd < 0) {
    const errno = c.errno();
    throw refuse(target, path, errno === ENOENT ? 'does not exist' : c.strerror(errno), errno);
  }
  buf.fill(0);
  if (c.fstatfs(fd, buf) < 0 || fsType(buf) !== NSFS_MAGIC) {
    c.close(fd);
    throw refuse(target, path, NOT_NSFS);
  }
  return fd;
}
