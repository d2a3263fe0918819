/**
 * Exit codes of the `pktmark` command (the iptables convention):
 *   0 success
 *   1 a rule problem: the command line parsed, but the rule is invalid (bad mark, address, port…),
 *     the kernel refused it, the rule/id does not exist, or privileges are missing
 *   2 a usage problem: unknown or unsupported word, missing or extra argument, unknown command
 * A UsageError is a PktmarkError that exits 2; every other PktmarkError exits 1.
 */
import { PktmarkError, type ErrorCode, type PktmarkErrorDetails } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_RULE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends PktmarkError {
  readonly exitCode = EXIT_USAGE;
  constructor(code: ErrorCode, message: string, details: PktmarkErrorDetails = {}) {
    super(code, message, details);
    this.name = 'UsageError';
  }
}

export function exitCodeOf(e: unknown): number {
  return e instanceof UsageError ? EXIT_USAGE : EXIT_RULE;
}

/** The fix the user needs when privileges are missing; every EPERM line ends with it. */
export const NEEDS_ROOT = 'needs root or CAP_NET_ADMIN (try --dry-run)';
