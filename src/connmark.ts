/**
 * The connection-mark statements of a rule (iptables' CONNMARK target, xt_connmark.c), in the
 * kernel's own arithmetic, so that every encoding (native nft or the xt compat target) and
 * every decoder means exactly one thing:
 *   set:     ctmark = (ctmark & ~mask) ^ value
 *   save:    ctmark = (ctmark & ~ctmask) ^ shift(mark & nfmask)
 *   restore: mark   = (mark & ~nfmask) ^ shift(ctmark & ctmask)
 * A rule with a connmark statement does not set the packet mark from a constant: its `mark` and
 * `mask` are 0 (the identity, (old & ~0) ^ 0).
 */
import { fail, parseU32, type MarkRuleInput } from './rule.js';

export interface MarkShift { readonly dir: 'left' | 'right'; readonly bits: number }

export type ConnmarkStatement =
  | { readonly op: 'set'; readonly value: number; readonly mask: number }
  | { readonly op: 'save' | 'restore'; readonly nfmask: number; readonly ctmask: number; readonly shift?: MarkShift };

/** What callers may pass; masks default to 0xffffffff, `mask` sets nfmask and ctmask both (iptables --mask). */
export type ConnmarkInput =
  | 'save' | 'restore'
  | { readonly op: 'set'; readonly value: number | string; readonly mask?: number | string }
  | {
    readonly op: 'save' | 'restore';
    readonly mask?: number | string; readonly nfmask?: number | string; readonly ctmask?: number | string;
    readonly shift?: { readonly dir: string; readonly bits: number | string };
  };

const FULL = 0xffffffff;

export function parseConnmark(v: unknown): ConnmarkStatement {
  const f = 'connmark';
  const o = (v === 'save' || v === 'restore' ? { op: v } : v) as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') return fail('INVALID_OPTION', f, `connmark must be 'save', 'restore' or { op: 'set' | 'save' | 'restore', … }`);
  const allowed = o.op === 'set' ? ['op', 'value', 'mask'] : ['op', 'mask', 'nfmask', 'ctmask', 'shift'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail('INVALID_OPTION', `${f}.${k}`, `unknown connmark field ${JSON.stringify(k)} for op ${JSON.stringify(o.op)}`);
  if (o.op === 'set') {
    let value: unknown = o.value;
    let mask: unknown = o.mask;
    if (typeof value === 'string' && value.includes('/')) {
      if (mask !== undefined) fail('INVALID_MASK', `${f}.mask`, 'give the mask either as value "V/M" or as mask, not both');
      [value, mask] = value.split('/', 2);
    }
    if (value === undefined) fail('INVALID_MARK', `${f}.value`, 'connmark set needs a value');
    return { op: 'set', value: parseU32(value, `${f}.value`), mask: mask === undefined ? FULL : parseU32(mask, `${f}.mask`, 'INVALID_MASK') };
  }
  if (o.op !== 'save' && o.op !== 'restore') return fail('INVALID_OPTION', `${f}.op`, `connmark op ${JSON.stringify(o.op)} is not set, save or restore`);
  if (o.mask !== undefined && (o.nfmask !== undefined || o.ctmask !== undefined)) fail('INVALID_MASK', `${f}.mask`, 'give mask, or nfmask and ctmask, not both');
  const both = o.mask === undefined ? FULL : parseU32(o.mask, `${f}.mask`, 'INVALID_MASK');
  const nfmask = o.nfmask === undefined ? both : parseU32(o.nfmask, `${f}.nfmask`, 'INVALID_MASK');
  const ctmask = o.ctmask === undefined ? both : parseU32(o.ctmask, `${f}.ctmask`, 'INVALID_MASK');
  if (o.shift === undefined) return { op: o.op, nfmask, ctmask };
  const s = o.shift as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object' || (s.dir !== 'left' && s.dir !== 'right')) return fail('INVALID_OPTION', `${f}.shift`, "shift must be { dir: 'left' | 'right', bits }");
  const bits = typeof s.bits === 'string' && /^\d+$/.test(s.bits) ? Number(s.bits) : s.bits;
  // libxt_CONNMARK: --left-shift-mark / --right-shift-mark take 0..31
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0 || bits > 31) fail('INVALID_OPTION', `${f}.shift.bits`, `shift bits ${JSON.stringify(s.bits)} is outside 0..31`);
  return bits === 0 ? { op: o.op, nfmask, ctmask } : { op: o.op, nfmask, ctmask, shift: { dir: s.dir, bits } };
}

/** The statement as library input again (listed rules → re-add, compare). */
export function connmarkInput(c: ConnmarkStatement): ConnmarkInput {
  const hex = (n: number): string => `0x${n.toString(16)}`;
  if (c.op === 'set') return { op: 'set', value: hex(c.value), mask: hex(c.mask) };
  return { op: c.op, nfmask: hex(c.nfmask), ctmask: hex(c.ctmask), ...(c.shift ? { shift: c.shift } : {}) };
}

/** The rule's mark fields when its statement is a connmark one (nothing else may set them). */
export function checkNoMark(input: MarkRuleInput): void {
  for (const k of ['mark', 'mask', 'xor'] as const) {
    if (input[k] !== undefined) fail('INVALID_OPTION', k, `a rule has one statement: ${k} sets the packet mark, connmark the connection's; give one`);
  }
}

/** The text users read (iptables-save words). */
export function formatConnmark(c: ConnmarkStatement): string {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
  if (c.op === 'set') return `--set-xmark ${hex(c.value)}/${hex(c.mask)}`;
  const shift = c.shift ? ` --${c.shift.dir}-shift-mark ${c.shift.bits}` : '';
  return `--${c.op}-mark --nfmask ${hex(c.nfmask)} --ctmask ${hex(c.ctmask)}${shift}`;
}
