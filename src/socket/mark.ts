/** SO_MARK on a file descriptor: read, write, and create a socket that is marked from birth. */
import { isPermissionErrno } from '../../codecs/errno.js';
import { PktmarkError } from '../errors.js';
import { parseU32 } from '../rule.js';
import {
  SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET, SO_MARK, getIntOption, getLibc, setIntOption, syscallError,
} from '../transport/syscalls.js';
import { type MarkableSocket, socketFd } from './fd.js';

export const MARK_HINT = 'setting a socket mark needs CAP_NET_ADMIN (or CAP_NET_RAW): run as root or grant the capability';

/** A mark as decimal or 0x-hex (number or string), 0..0xffffffff. */
export function parseMark(mark: unknown, field = 'mark'): number {
  if (mark === undefined || mark === null) throw new PktmarkError('INVALID_MARK', `${field} is required`, { field });
  return parseU32(mark, field);
}

export function setFdMark(fd: number, mark: number): void {
  // SO_MARK is a u32 in the kernel; setIntOption writes the same 32 bits as an int.
  if (setIntOption(fd, SOL_SOCKET, SO_MARK, mark | 0) < 0) {
    const errno = getLibc().errno();
    throw syscallError('setsockopt SO_MARK', errno, { field: 'mark', ...(isPermissionErrno(errno) ? { hint: MARK_HINT } : {}) });
  }
}

export function getFdMark(fd: number): number {
  const [rc, value] = getIntOption(fd, SOL_SOCKET, SO_MARK);
  if (rc < 0) throw syscallError('getsockopt SO_MARK', getLibc().errno(), { field: 'socket' });
  return value >>> 0;
}

/** Set SO_MARK on an open socket (net.Socket, net.Server, dgram.Socket or fd). Affects packets sent from now on. */
export function setSocketMark(socket: MarkableSocket, mark: number | string): void {
  const m = parseMark(mark);
  setFdMark(socketFd(socket), m);
}

/** The socket's current SO_MARK. */
export function getSocketMark(socket: MarkableSocket): number {
  return getFdMark(socketFd(socket));
}

/** socket(2) non-blocking and close-on-exec, with SO_MARK set before anything is sent. Closes the fd on failure. */
export function openMarkedFd(domain: number, type: number, protocol: number, mark: number | undefined): number {
  const c = getLibc();
  const fd = c.socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw syscallError('socket', c.errno());
  if (mark !== undefined) {
    try {
      setFdMark(fd, mark);
    } catch (e) {
      c.close(fd);
      throw e;
    }
  }
  return fd;
}
