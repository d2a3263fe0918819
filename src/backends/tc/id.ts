/** tc rule ids: `tc:DEV:ingress|egress:PRIO:HANDLE`, the u32 node a mark rule is. */
import { formatU32Handle, parseU32Handle } from '../../../codecs/tc/classifiers/u32.js';
import { PktmarkError } from '../../errors.js';
import { parseIfName } from '../../rule.js';
import type { Direction } from '../clsact.js';

export function tcId(dev: string, direction: Direction, prio: number, handle: number): string {
  return `tc:${dev}:${direction}:${prio}:${formatU32Handle(handle)}`;
}
export interface TcId { readonly dev: string; readonly direction: Direction; readonly prio: number; readonly handle: number }
export function parseTcId(id: string): TcId {
  const bad = (): never => { throw new PktmarkError('INVALID_ID', `${JSON.stringify(id)} is not a tc rule id (tc:DEV:ingress|egress:PRIO:HANDLE, e.g. tc:eth0:ingress:49152:800::800)`, { field: 'id' }); };
  if (typeof id !== 'string') return bad();
  const parts = id.split(':');
  if (parts.length < 6 || parts[0] !== 'tc') return bad();
  const [, dev, direction, prioText] = parts;
  const handle = parseU32Handle(parts.slice(4).join(':'));
  if ((direction !== 'ingress' && direction !== 'egress') || !/^\d+$/.test(prioText) || handle === undefined) return bad();
  const prio = Number(prioText);
  if (prio < 1 || prio > 0xffff) return bad();
  try { parseIfName(dev, 'id', false); } catch { return bad(); }
  return { dev, direction, prio, handle };
}
