/**
 * The errno numbers pktmark reacts to, and their names as errno(1) prints them: the one place
 * they are defined. Numbers are asm-generic/errno-base.h and errno.h (the same on x86-64 and
 * arm64); ERESTARTSYS and ENOTSUPP are kernel-internal (include/linux/errno.h) but reach user
 * space through netlink acks and bpf(), so they are named too.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EINVAL = 22;
/** nf_tables: a set with a declared size is full (nft_add_set_elem) */
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOSPC = 28;
export const ERANGE = 34;
export const ENODATA = 61;
export const EPROTO = 71;
export const EOVERFLOW = 75;
/** nf_tables: the ruleset generation changed under a batch (NFNL_BATCH_GENID) */
export const ERESTART = 85;
export const EMSGSIZE = 90;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;
export const EAFNOSUPPORT = 97;
export const ENOBUFS = 105;
export const ETIMEDOUT = 110;
export const ERESTARTSYS = 512;
export const ERESTARTNOINTR = 513;
export const ENOTSUPP = 524;

/** Named as strerror/errno(1) do. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM: Operation not permitted', [ENOENT]: 'ENOENT: No such file or directory', [ESRCH]: 'ESRCH: No such process',
  [EINTR]: 'EINTR', [E2BIG]: 'E2BIG: Argument list too long', [EBADF]: 'EBADF', [EAGAIN]: 'EAGAIN: Resource temporarily unavailable',
  [ENOMEM]: 'ENOMEM: Out of memory', [EACCES]: 'EACCES: Permission denied', [EFAULT]: 'EFAULT: Bad address',
  [EBUSY]: 'EBUSY: Device or resource busy', [EEXIST]: 'EEXIST: File exists', [ENODEV]: 'ENODEV: No such device',
  [ENOTDIR]: 'ENOTDIR: Not a directory', [EINVAL]: 'EINVAL: Invalid argument', [ENFILE]: 'ENFILE: Too many open files in system', [EMFILE]: 'EMFILE: Too many open files',
  [ENOSPC]: 'ENOSPC: No space left on device', [ERANGE]: 'ERANGE: Numerical result out of range',
  [ENODATA]: 'ENODATA: No data available', [EPROTO]: 'EPROTO: Protocol error', [EOVERFLOW]: 'EOVERFLOW: Value too large',
  [ERESTART]: 'ERESTART: Interrupted system call should be restarted', [EMSGSIZE]: 'EMSGSIZE: Message too long',
  [EPROTONOSUPPORT]: 'EPROTONOSUPPORT: Protocol not supported', [EOPNOTSUPP]: 'EOPNOTSUPP: Operation not supported',
  [EAFNOSUPPORT]: 'EAFNOSUPPORT: Address family not supported', [ENOBUFS]: 'ENOBUFS: No buffer space available',
  [ETIMEDOUT]: 'ETIMEDOUT', [ERESTARTSYS]: 'ERESTARTSYS', [ERESTARTNOINTR]: 'ERESTARTNOINTR',
  [ENOTSUPP]: 'ENOTSUPP: Operation not supported',
};

/** Permission errnos: EPERM from capability checks, EACCES from LSMs and file modes. */
/**
 * How nf_tables refuses a batch that lost a race with another writer: ERESTART when the
 * generation in NFNL_BATCH_GENID moved, EBUSY (and ERESTARTSYS from an interrupted commit) when
 * the commit mutex or an object was busy. Nothing of such a batch was applied; reading again and
 * resending is safe.
 */
export const LOST_RACE_ERRNOS: ReadonlySet<number> = new Set([EBUSY, ERESTART, ERESTARTSYS]);

export const isPermissionErrno = (errno: number | undefined): boolean => errno === EPERM || errno === EACCES;
