/**
 * The ipftrace2 hand-off: the `ipft -m MARK --mask MASK` arguments that trace the packets a rule
 * marks. ipftrace2 keeps a packet when `(skb->mark & mask) == (mark & mask)`; it refuses a mark or
 * a mask of 0 (nothing to trace), and older releases parse both with base 16, so both are always
 * written as 0x-hex. An xor rule (--set-xmark) has no single resulting mark: refused too.
 */
import { PktmarkError } from './errors.js';
import { parseMarkSpec, type MarkRule } from './rule.js';

export interface IpftArgs {
  readonly mark: number;
  readonly mask: number;
  /** the words after `ipft`: `-m 0x… --mask 0x…` */
  readonly argv: readonly string[];
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** The arguments for a rule's mark, or for `V[/M]` (a string as `pktmark marks` takes it). */
export function ipftArgs(target: Pick<MarkRule, 'mark' | 'mask' | 'xor'> | string): IpftArgs {
  const spec = typeof target === 'string' ? parseMarkSpec(target, undefined) : target;
  if (spec.xor) {
    throw new PktmarkError('UNSUPPORTED', `an xor rule (--set-xmark ${hex(spec.mark)}/${hex(spec.mask)}) toggles bits of the old mark: there is no single mark to trace`, { field: 'mark' });
  }
  if (spec.mask >>> 0 === 0) throw new PktmarkError('INVALID_MASK', 'mask 0 selects no bits; ipftrace2 rejects it', { field: 'mask' });
  if (spec.mark >>> 0 === 0) {
    throw new PktmarkError('INVALID_MARK', 'mark 0 is what an unmarked packet carries; ipftrace2 rejects it', { field: 'mark', hint: 'trace a rule that sets a nonzero mark' });
  }
  return { mark: spec.mark >>> 0, mask: spec.mask >>> 0, argv: ['-m', hex(spec.mark), '--mask', hex(spec.mask)] };
}

/** For listings: the arguments, or null where a rule has none (xor, mark 0, undecoded). */
export function ipftArgsOrNull(rule: Pick<MarkRule, 'mark' | 'mask' | 'xor'> | undefined): readonly string[] | null {
  if (!rule) return null;
  try { return ipftArgs(rule).argv; } catch (e) { if (e instanceof PktmarkError) return null; throw e; }
}
