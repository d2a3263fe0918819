/**
 * Network namespace targeting. setns(2) applies to the calling thread only, so we switch the
 * main thread, open what must live in the target namespace (a netlink socket keeps the
 * namespace it was created in for its whole life), and switch back before returning — even
 * when `fn` throws. Everything in between is synchronous, so no other JS runs while switched.
 */
import { EINVAL } from '../../codecs/errno.js';
import { PktmarkError } from '../errors.js';
import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY, getLibc, syscallError } from './syscalls.js';
import { openNetnsFile } from './nsfs.js';

/** A namespace name (`/run/netns/NAME`, as `ip netns add` makes), a path, or a pid. */
export type NetnsTarget = string | number;

export function resolveNetnsPath(target: NetnsTarget): string {
  if (typeof target === 'number' || /^\d+$/.test(String(target))) {
    const pid = Number(target);
    if (!Number.isSafeInteger(pid) || pid < 1) throw new PktmarkError('INVALID_NETNS', `netns pid ${target} is not a process id`, { field: 'netns' });
    return `/proc/${pid}/ns/net`;
  }
  if (typeof target !== 'string' || target === '') throw new PktmarkError('INVALID_NETNS', 'netns must be a name, a path or a pid', { field: 'netns' });
  // a NUL would cut the C string short: "a\0/../x" must not open /run/netns/a
  if (target.includes('\0')) throw new PktmarkError('INVALID_NETNS', 'netns must not contain a NUL byte', { field: 'netns' });
  if (target.includes('/')) {
    // a path is taken as given only when absolute; "a/b" or "../x" would be relative to the cwd
    if (!target.startsWith('/')) {
      throw new PktmarkError('INVALID_NETNS', `netns ${JSON.stringify(target)}: a name has no '/', and a path must be absolute`, { field: 'netns' });
    }
    return target;
  }
  if (target === '.' || target === '..' || target.length > 255) {
    throw new PktmarkError('INVALID_NETNS', `netns name ${JSON.stringify(target)} is not valid`, { field: 'netns' });
  }
  return `/run/netns/${target}`;
}

export function withNetns<T>(target: NetnsTarget | undefined, fn: () => T): T {
  if (target === undefined) return fn();
  const path = resolveNetnsPath(target);
  const c = getLibc();
  const nsFd = openNetnsFile(String(target), path, c);
  const selfFd = c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC);
  if (selfFd < 0) {
    const errno = c.errno();
    c.close(nsFd);
    throw syscallError('open /proc/thread-self/ns/net', errno, { field: 'netns' });
  }
  try {
    if (c.setns(nsFd, CLONE_NEWNET) < 0) {
      const errno = c.errno();
      // EINVAL: an nsfs file of another namespace type (/proc/PID/ns/mnt, …)
      if (errno === EINVAL) throw new PktmarkError('INVALID_NETNS', `netns ${JSON.stringify(String(target))} (${path}) is not a network namespace`, { field: 'netns', errno });
      throw syscallError(`setns ${path}`, errno, { field: 'netns' });
    }
    try {
      return fn();
    } finally {
      if (c.setns(selfFd, CLONE_NEWNET) < 0) {
        // Staying in the wrong namespace would silently misdirect every later socket.
        throw syscallError('setns back to the original namespace', c.errno());
      }
    }
  } finally {
    c.close(nsFd);
    c.close(selfFd);
  }
}

/**
 * Run `fn` inside a brand-new, empty network namespace (unshare(CLONE_NEWNET) on this thread),
 * then return to the original one, even when `fn` throws. Sockets opened by `fn` stay in the
 * new namespace, which the kernel destroys when the last of them is closed: nothing is left
 * behind and nothing in the caller's namespace is touched (pktmark doctor's probes).
 * Needs CAP_SYS_ADMIN.
 */
export function withThrowawayNetns<T>(fn: () => T): T {
  const c = getLibc();
  const selfFd = c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC);
  if (selfFd < 0) throw syscallError('open /proc/thread-self/ns/net', c.errno(), { field: 'netns' });
  try {
    if (c.unshare(CLONE_NEWNET) < 0) throw syscallError('unshare(CLONE_NEWNET)', c.errno(), { field: 'netns', hint: 'a throwaway namespace needs root (CAP_SYS_ADMIN)' });
    try {
      return fn();
    } finally {
      if (c.setns(selfFd, CLONE_NEWNET) < 0) throw syscallError('setns back to the original namespace', c.errno());
    }
  } finally {
    c.close(selfFd);
  }
}
