/** One place that turns a failed read into an `unreadable` entry, so a scanner never stops the scan. */
import { ERRNO_NAMES } from '../../codecs/errno.js';
import { PktmarkError } from '../errors.js';
import type { ScanSource } from './scanners.js';
import type { ScanContext } from './types.js';

export function reasonOf(e: unknown): string {
  if (e instanceof PktmarkError) return e.errno !== undefined ? (ERRNO_NAMES[e.errno]?.split(':')[0] ?? `errno ${e.errno}`) : e.code;
  return 'error';
}

/** Run one read; on failure record `what` as unreadable and return undefined. The deadline is checked first. */
export async function guarded<T>(ctx: ScanContext, source: ScanSource, what: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (Date.now() > ctx.deadline) {
    ctx.unreadable({ source, what, reason: 'deadline', message: 'the scan ran out of time before reading it' });
    return undefined;
  }
  try {
    return await fn();
  } catch (e) {
    ctx.unreadable({ source, what, reason: reasonOf(e), message: e instanceof Error ? e.message : String(e) });
    return undefined;
  }
}
