/**
 * The one error type of pktmark. It lives in codecs/ (not src/) so that the pure codecs can
 * throw it too; src/errors.ts re-exports it. `code` is stable and documented in the README.
 */
export type ErrorCode =
  // input validation (nothing was sent)
  | 'INVALID_MARK' | 'MARK_RANGE' | 'INVALID_MASK' | 'MASK_MISMATCH'
  | 'INVALID_CIDR' | 'FAMILY_MISMATCH' | 'INVALID_PROTO' | 'INVALID_PORT' | 'PORT_WITHOUT_PROTO'
  | 'INVALID_IFNAME' | 'INVALID_RATE' | 'INVALID_BURST' | 'INVALID_COMMENT' | 'INVALID_HOOK'
  | 'INVALID_FAMILY' | 'INVALID_OPTION' | 'INVALID_ID' | 'INVALID_NETNS' | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED'
  // state
  | 'NOT_FOUND' | 'NOT_OWNED' | 'CLOSED'
  // another program on this host uses the mark's bits (add --strict), or --mark auto found no free bit
  | 'MARK_CONFLICT' | 'NO_FREE_MARK'
  // an address-list update (Marker.update) on a rule that has no list set
  | 'NOT_A_SET_RULE'
  // kernel / system
  | 'EPERM' | 'ACTION_UNAVAILABLE' | 'KERNEL' | 'ENOBUFS' | 'TIMEOUT' | 'BUSY' | 'SYSCALL'
  // a program the eBPF verifier rejected (its log is in the message)
  | 'BPF_VERIFIER'
  | 'BPF_TOO_LARGE' // a program that does not fit: a jump beyond ±32767 slots, or over the instruction limit
  // bytes
  | 'DECODE' | 'ENCODE';

export interface PktmarkErrorDetails {
  /** The rule field (or CLI option) the error is about, in the user's words. */
  readonly field?: string;
  /** Positive errno from the kernel or a syscall. */
  readonly errno?: number;
  /** The kernel's extended-ack text (NLMSGERR_ATTR_MSG). */
  readonly extack?: string;
  /** Byte offset of the offending attribute inside the failed message (NLMSGERR_ATTR_OFFS). */
  readonly extackOffset?: number;
  /** Which of the caller's rules (or ids) the failed kernel message carried: its index in the input array. */
  readonly messageIndex?: number;
  /** Byte offset in a buffer being decoded. */
  readonly offset?: number;
  /** What the user can do about it. */
  readonly hint?: string;
  readonly cause?: unknown;
}

export class PktmarkError extends Error implements PktmarkErrorDetails {
  readonly code: ErrorCode;
  declare readonly field?: string;
  declare readonly errno?: number;
  declare readonly extack?: string;
  declare readonly extackOffset?: number;
  declare readonly messageIndex?: number;
  declare readonly offset?: number;
  declare readonly hint?: string;

  constructor(code: ErrorCode, message: string, details: PktmarkErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PktmarkError';
    this.code = code;
    if (details.field !== undefined) this.field = details.field;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.extack !== undefined) this.extack = details.extack;
    if (details.extackOffset !== undefined) this.extackOffset = details.extackOffset;
    if (details.messageIndex !== undefined) this.messageIndex = details.messageIndex;
    if (details.offset !== undefined) this.offset = details.offset;
    if (details.hint !== undefined) this.hint = details.hint;
  }

  /** One line for a terminal: `CODE field: message (kernel: extack) — hint`. */
  toLine(): string {
    let s = `${this.code}`;
    if (this.field) s += ` ${this.field}`;
    s += `: ${this.message}`;
    if (this.extack && !this.message.includes(this.extack)) s += ` (kernel: ${this.extack})`;
    if (this.hint) s += ` — ${this.hint}`;
    return s;
  }

  toJSON(): Record<string, unknown> {
    const o: Record<string, unknown> = { code: this.code, message: this.message };
    for (const k of ['field', 'errno', 'extack', 'extackOffset', 'messageIndex', 'offset', 'hint'] as const) {
      if (this[k] !== undefined) o[k] = this[k];
    }
    return o;
  }
}

export function decodeError(message: string, offset: number): PktmarkError {
  return new PktmarkError('DECODE', `${message} at byte ${offset}`, { offset });
}

export function isPktmarkError(e: unknown): e is PktmarkError {
  return e instanceof PktmarkError;
}
