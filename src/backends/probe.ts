/** How backends' probes turn one kernel request into a doctor line. */
import { PktmarkError } from '../errors.js';
import type { Check } from './backend.js';

export const reason = (e: unknown): string => (e instanceof PktmarkError ? e.toLine() : e instanceof Error ? e.message : String(e));

/** `fn` succeeding is "yes"; an error is "no" unless `classify` says otherwise (some refusals prove support). */
export async function probeCheck(name: string, detailOk: string, fn: () => Promise<unknown>, classify?: (e: unknown) => Check['status'] | undefined): Promise<Check> {
  try {
    await fn();
    return { name, status: 'yes', detail: detailOk };
  } catch (e) {
    return { name, status: classify?.(e) ?? 'no', detail: reason(e) };
  }
}

/** The loopback device is ifindex 1 in every new namespace. */
export const LO = 1;
