/**
 * The libc calls pktmark needs, bound once through koffi (the project's one native dependency).
 * Loaded lazily: importing pktmark for dry-run or encoding never loads the native module.
 */
import type { IKoffiLib, KoffiFunction } from 'koffi';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PktmarkError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from '../../codecs/netlink/struct.js';
import { ENOBUFS, isPermissionErrno } from '../../codecs/errno.js';

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
/** <asm-generic/fcntl.h>: never wait in open() (a FIFO without a writer), never adopt a tty */
export const O_NONBLOCK = 0o4000;
export const O_NOCTTY = 0o400;
/** <linux/magic.h>: statfs.f_type of the namespace filesystem (/proc/PID/ns/*, /run/netns/* bind mounts) */
export const NSFS_MAGIC = 0x6e736673;
/**
 * struct statfs is 120 bytes on x86_64 and arm64 (f_type first, a 64-bit __fsword_t on both);
 * the buffer is larger so a libc with a longer struct cannot write past it.
 */
export const STATFS_SIZE = 256;
export const CLONE_NEWNET = 0x40000000;
export const POLLIN = 0x1;
// <sys/mman.h> (Linux, every architecture pktmark runs on)
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_POPULATE = 0x8000;
export const MADV_DONTNEED = 4;
export const MADV_DONTFORK = 10;
export const MADV_HUGEPAGE = 14;
/** Linux 5.14+: fault every page of the range in now (EINVAL before: they fault on first write) */
export const MADV_POPULATE_WRITE = 23;
const HUGE_PAGE = 2 << 20;
const MAP_FAILED = 0xffffffffffffffffn;
export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
/** <linux/in.h>: ask for the received TTL as an IP_TTL control message */
export const IP_RECVTTL = 12;
export const IP_TTL = 2;
/** <linux/in6.h>: ask for the received hop limit as an IPV6_HOPLIMIT control message */
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;

export { E2BIG, EACCES, EAGAIN, EBADF, EBUSY, EEXIST, EFAULT, EINTR, EINVAL, ENOBUFS, ENOENT, ENOSPC, ENOTDIR, ENOTSUPP, EPERM, ERANGE } from '../../codecs/errno.js';

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
  /** statfs(2) / fstatfs(2) into a STATFS_SIZE buffer; see `fsType` */
  statfs(path: string, buf: Uint8Array): number;
  fstatfs(fd: number, buf: Uint8Array): number;
  setns(fd: number, nstype: number): number;
  /** unshare(2): move the calling thread into new namespaces (pktmark doctor's throwaway netns) */
  unshare(flags: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrLen: number): number;
  /** recvmsg(2) into caller-owned buffers; the lengths the kernel wrote are stored back into `msg` */
  recvmsg(fd: number, msg: RecvMsg, flags: number): number;
  /** poll on one fd; runs on a koffi worker so the event loop keeps going while we wait */
  pollAsync(pollfd: Uint8Array, nfds: number, timeoutMs: number): Promise<number>;
  errno(): number;
  strerror(errno: number): string;
  /**
   * syscall(2) with three integer arguments, the third an address (bpf(cmd, attr, size) needs
   * it: glibc has no bpf() wrapper). Declared variadic as in <unistd.h>.
   */
  syscall3(nr: number, a: number, b: bigint, c: number): number;
  /** Zeroed native memory that the kernel reads and writes through an address held in a struct. */
  alloc(size: number): NativeBuffer;
  /**
   * `size` zeroed bytes of anonymous memory (mmap) that a child process does not inherit
   * (madvise MADV_DONTFORK), or undefined if mmap fails; `populate` faults it all in at once; from
   * 2 MiB up in transparent huge pages where the kernel allows them. Never unmapped: views of it
   * must stay valid (send-pool.ts keeps every such buffer for reuse).
   */
  mapDontFork(size: number, populate?: boolean): Uint8Array | undefined;
  /**
   * Give the pages of a buffer from `mapDontFork` back to the kernel (madvise MADV_DONTNEED): it
   * stays mapped and reads as zeros, and only the pages written again become resident. False for
   * any other buffer.
   */
  discardPages(b: Uint8Array): boolean;
  /** glibc's malloc_trim(0): return the free memory of malloc's heaps; false where there is none (musl) */
  trimMalloc(): boolean;
}

/**
 * Memory outside the JS heap, so its address is stable while the kernel uses it (a pointer
 * inside bpf_attr cannot point at a Uint8Array that the garbage collector may move).
 * `bytes` views it until `free()`; never touch `bytes` after that.
 */
export interface NativeBuffer {
  readonly address: bigint;
  readonly bytes: Uint8Array;
  free(): void;
}

/** One recvmsg(2) call's buffers: payload, source address (sockaddr) and control messages. */
export interface RecvMsg {
  data: Uint8Array;
  name: Uint8Array;
  control: Uint8Array;
  /** set by recvmsg: bytes of `name` and `control` filled, and msg_flags (MSG_TRUNC, MSG_CTRUNC) */
  nameLen?: number;
  controlLen?: number;
  flags?: number;
}

let libc: Libc | undefined;

/**
 * koffi's package entry loads its installer helpers (node:crypto, node:https, zlib) before the
 * native module: about 10 ms of a CLI run that is mostly start-up. The prebuilt binary for this
 * platform is required directly instead (glibc, then musl, as koffi's own loader tries them), and
 * the package entry is the fallback for any other layout. The binary's exports are koffi's API;
 * the entry only adds deprecated aliases.
 */
function loadKoffi(): typeof import('koffi') {
  const require = createRequire(import.meta.url);
  for (const triplet of [`${process.platform}_${process.arch}`, `musl_${process.arch}`]) {
    // the fleet bundle (deploy/bundle.mjs) carries the binaries beside itself, without node_modules;
    // elsewhere (dist/) the file is absent, and a stat is cheaper than a failed require's error
    const local = `./build/koffi/${triplet}/koffi.node`;
    if (!existsSync(new URL(local, import.meta.url))) continue;
    try { return require(local) as typeof import('koffi'); } catch { /* not loadable here (musl vs glibc) */ }
  }
  for (const triplet of [`${process.platform}_${process.arch}`, `musl_${process.arch}`]) {
    try {
      const native = require(`koffi/build/koffi/${triplet}/koffi.node`) as typeof import('koffi') & { version?: string };
      if (native.version === (require('koffi/package.json') as { version: string }).version) return native;
    } catch { /* not this one: try the next, then koffi's own loader */ }
  }
  return require('koffi') as typeof import('koffi');
}

/** glibc's soname, else musl's (Alpine: /lib/ld-musl-ARCH.so.1, also known as libc.musl-ARCH.so.1). */
function loadLibc(koffi: typeof import('koffi')): IKoffiLib {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  let first: unknown;
  for (const name of ['libc.so.6', `libc.musl-${arch}.so.1`, `ld-musl-${arch}.so.1`]) {
    try { return koffi.load(name); } catch (e) { first ??= e; }
  }
  throw first;
}

/** Bind libc on first use. */
export function getLibc(): Libc {
  if (libc) return libc;
  let koffi: typeof import('koffi');
  try {
    koffi = loadKoffi();
  } catch (e) {
    throw new PktmarkError('SYSCALL', 'cannot load koffi (the native FFI module pktmark uses for syscalls)', {
      cause: e, hint: 'reinstall with npm install; dry-run and encode work without it',
    });
  }
  const lib: IKoffiLib = loadLibc(koffi);
  const f = (sig: string): KoffiFunction => lib.func(sig);
  const poll = f('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)');
  const strerror = f('const char *strerror(int)');
  // struct iovec / struct msghdr from <sys/socket.h>; anonymous so other koffi users cannot clash by name
  const iovec = koffi.struct({ base: 'void *', len: 'size_t' });
  const msghdr = koffi.struct({
    name: 'void *', namelen: 'uint32_t', iov: koffi.pointer(iovec), iovlen: 'size_t',
    control: 'void *', controllen: 'size_t', flags: 'int',
  });
  const recvmsg = lib.func('recvmsg', 'long', ['int', koffi.inout(koffi.pointer(msghdr)), 'int']);
  const syscall = f('long syscall(long number, ...)');
  const mmap = f('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
  const madvise = f('int madvise(void *addr, size_t len, int advice)');
  // each mapDontFork buffer's address as mmap returned it, for discardPages (koffi may pass a copy of a Uint8Array)
  const mapped = new WeakMap<ArrayBufferLike, unknown>();
  let mallocTrim: KoffiFunction | null | undefined;
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
    statfs: f('int statfs(const char *path, _Out_ uint8_t *buf)'),
    fstatfs: f('int fstatfs(int fd, _Out_ uint8_t *buf)'),
    setns: f('int setns(int fd, int nstype)'),
    unshare: f('int unshare(int flags)'),
    sendto: f('long sendto(int, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t alen)'),
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
    statfs: (path, buf) => l.statfs(path, buf) as number,
    fstatfs: (fd, buf) => l.fstatfs(fd, buf) as number,
    setns: (fd, nstype) => l.setns(fd, nstype) as number,
    unshare: (flags) => l.unshare(flags) as number,
    sendto: (fd, buf, len, flags, addr, alen) => Number(l.sendto(fd, buf, len, flags, addr, alen)),
    recvmsg: (fd, msg, flags) => {
      const m = {
        name: msg.name, namelen: msg.name.byteLength, iov: [{ base: msg.data, len: msg.data.byteLength }], iovlen: 1,
        control: msg.control, controllen: msg.control.byteLength, flags: 0,
      };
      const n = Number(recvmsg(fd, m, flags));
      msg.nameLen = m.namelen;
      msg.controlLen = Number(m.controllen);
      msg.flags = m.flags;
      return n;
    },
    pollAsync: (fds, nfds, timeout) => new Promise((resolve, reject) => {
      poll.async(fds, nfds, timeout, (err: unknown, res: number) => (err ? reject(err) : resolve(res)));
    }),
    errno: () => koffi.errno(),
    strerror: (n) => strerror(n) as string,
    syscall3: (nr, a, b, c) => Number(syscall(nr, 'long', a, 'uint64_t', b, 'unsigned long', c)),
    alloc: (size) => {
      // koffi.alloc does not promise zeroed memory, and bpf_attr's unused tail must be zero
      const n = Math.max(1, size);
      const ptr: unknown = koffi.alloc('uint8_t', n);
      const bytes = new Uint8Array(koffi.view(ptr, n), 0, size);
      bytes.fill(0);
      let freed = false;
      return { address: koffi.address(ptr), bytes, free: () => { if (!freed) { freed = true; koffi.free(ptr); } } };
    },
    mapDontFork: (size, populate = false) => {
      // From 2 MiB up the mapping asks for transparent huge pages (THP is often in madvise mode):
      // a 4 MiB batch buffer then takes 2 faults instead of 1,024 and its fill ~2 ms of CPU instead
      // of ~13 (MAP_POPULATE) here. MAP_POPULATE would fault small pages in before the madvise, so
      // such a mapping is populated after it (MADV_POPULATE_WRITE), or else faults on first write.
      const huge = size >= HUGE_PAGE;
      const ptr: unknown = mmap(null, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (populate && !huge ? MAP_POPULATE : 0), -1, 0);
      if (ptr === null || koffi.address(ptr) === MAP_FAILED) return undefined;
      // if madvise fails the memory is still good, only shared copy-on-write with children: keep it (it is mapped for good)
      madvise(ptr, size, MADV_DONTFORK);
      if (huge) {
        madvise(ptr, size, MADV_HUGEPAGE);
        if (populate) madvise(ptr, size, MADV_POPULATE_WRITE);
      }
      const b = new Uint8Array(koffi.view(ptr, size));
      mapped.set(b.buffer, ptr);
      return b;
    },
    discardPages: (b) => {
      const ptr = mapped.get(b.buffer);
      return ptr !== undefined && madvise(ptr, b.buffer.byteLength, MADV_DONTNEED) === 0;
    },
    trimMalloc: () => {
      if (mallocTrim === undefined) { try { mallocTrim = f('int malloc_trim(size_t pad)'); } catch { mallocTrim = null; } }
      if (mallocTrim === null) return false;
      mallocTrim(0);
      return true;
    },
  };
  return libc;
}

export function syscallError(op: string, errno: number, extra: { field?: string; hint?: string } = {}): PktmarkError {
  const c = getLibc();
  const code = isPermissionErrno(errno) ? 'EPERM' : errno === ENOBUFS ? 'ENOBUFS' : 'SYSCALL';
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

/** statfs.f_type from a buffer `statfs`/`fstatfs` filled (the first field, host order). */
export function fsType(buf: Uint8Array): number {
  return Number(new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigInt64(0, HOST_LITTLE_ENDIAN) & 0xffffffffn);
}
