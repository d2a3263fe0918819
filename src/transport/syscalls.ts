/**
 * The libc calls pktmark needs, bound once through koffi (the project's one native dependency).
 * Loaded lazily: importing pktmark for dry-run or encoding never loads the native module.
 */
import type { IKoffiLib, KoffiFunction } from 'koffi';
import { createRequire } from 'node:module';
import { PktmarkError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_MARK = 36;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_PEEK = 0x02;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const POLLIN = 0x1;

export const EINTR = 4;
export const EAGAIN = 11;
export const ENOBUFS = 105;
export const EPERM = 1;

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  close(fd: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, val: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, val: Uint8Array, len: Uint32Array): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint32Array): number;
  open(path: string, flags: number): number;
  setns(fd: number, nstype: number): number;
  /** poll on one fd; runs on a koffi worker so the event loop keeps going while we wait */
  pollAsync(pollfd: Uint8Array, nfds: number, timeoutMs: number): Promise<number>;
  errno(): number;
  strerror(errno: number): string;
}

let libc: Libc | undefined;

/** Bind libc on first use. */
export function getLibc(): Libc {
  if (libc) return libc;
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    throw new PktmarkError('SYSCALL', 'cannot load koffi (the native FFI module pktmark uses for syscalls)', {
      cause: e, hint: 'reinstall with npm install; dry-run and encode work without it',
    });
  }
  const lib: IKoffiLib = koffi.load('libc.so.6');
  const f = (sig: string): KoffiFunction => lib.func(sig);
  const poll = f('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
  const strerror = f('const char *strerror(int)');
  const l = {
    socket: f('int socket(int, int, int)'),
    bind: f('int bind(int, const uint8_t *addr, uint32_t len)'),
    close: f('int close(int)'),
    send: f('long send(int, const uint8_t *buf, size_t len, int flags)'),
    recv: f('long recv(int, _Out_ uint8_t *buf, size_t len, int flags)'),
    setsockopt: f('int setsockopt(int, int, int, const uint8_t *val, uint32_t len)'),
    getsockopt: f('int getsockopt(int, int, int, _Out_ uint8_t *val, _Inout_ uint32_t *len)'),
    getsockname: f('int getsockname(int, _Out_ uint8_t *addr, _Inout_ uint32_t *len)'),
    open: f('int open(const char *path, int flags)'),
    setns: f('int setns(int fd, int nstype)'),
  };
  libc = {
    socket: (a, b, c) => l.socket(a, b, c) as number,
    bind: (fd, addr, len) => l.bind(fd, addr, len) as number,
    close: (fd) => l.close(fd) as number,
    send: (fd, buf, len, flags) => Number(l.send(fd, buf, len, flags)),
    recv: (fd, buf, len, flags) => Number(l.recv(fd, buf, len, flags)),
    setsockopt: (fd, level, name, val, len) => l.setsockopt(fd, level, name, val, len) as number,
    getsockopt: (fd, level, name, val, len) => l.getsockopt(fd, level, name, val, len) as number,
    getsockname: (fd, addr, len) => l.getsockname(fd, addr, len) as number,
    open: (path, flags) => l.open(path, flags) as number,
    setns: (fd, nstype) => l.setns(fd, nstype) as number,
    pollAsync: (fds, nfds, timeout) => new Promise((resolve, reject) => {
      poll.async(fds, nfds, timeout, (err: unknown, res: number) => (err ? reject(err) : resolve(res)));
    }),
    errno: () => koffi.errno(),
    strerror: (n) => strerror(n) as string,
  };
  return libc;
}

export function syscallError(op: string, errno: number, extra: { field?: string; hint?: string } = {}): PktmarkError {
  const c = getLibc();
  const code = errno === EPERM || errno === 13 ? 'EPERM' : errno === ENOBUFS ? 'ENOBUFS' : 'SYSCALL';
  const hint = extra.hint ?? (code === 'EPERM' ? 'needs root or CAP_NET_ADMIN (try --dry-run)' : undefined);
  return new PktmarkError(code, `${op}: ${c.strerror(errno)} (errno ${errno})`, {
    errno, ...(extra.field ? { field: extra.field } : {}), ...(hint ? { hint } : {}),
  });
}

/** setsockopt with an int value */
export function setIntOption(fd: number, level: number, name: number, value: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, HOST_LITTLE_ENDIAN);
  return getLibc().setsockopt(fd, level, name, b, 4);
}

/** getsockopt of an int value; returns [rc, value] */
export function getIntOption(fd: number, level: number, name: number): [number, number] {
  const b = new Uint8Array(4);
  const len = new Uint32Array([4]);
  const rc = getLibc().getsockopt(fd, level, name, b, len);
  return [rc, new DataView(b.buffer).getInt32(0, HOST_LITTLE_ENDIAN)];
}
