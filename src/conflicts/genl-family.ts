/** Resolve a generic netlink family by name; a family whose module is not loaded is reported as absent, not as an error. */
import { ENOENT } from '../../codecs/errno.js';
import { decodeFamilyId, encodeGetFamily, GENL_ID_CTRL } from '../../codecs/genl/genl.js';
import { PktmarkError } from '../errors.js';
import { execute } from '../transport/execute.js';
import type { Transport } from '../transport/transport.js';
import type { ScanSource } from './scanners.js';
import type { ScanContext } from './types.js';

export async function genlFamily(ctx: ScanContext, t: Transport, source: ScanSource, name: string): Promise<number | undefined> {
  try {
    const replies = await execute(t, `resolve generic netlink family ${name}`, (w, seq) => encodeGetFamily(w, seq, name));
    const r = replies.find((m) => m.header.type === GENL_ID_CTRL);
    if (r) return decodeFamilyId(r);
  } catch (e) {
    if (!(e instanceof PktmarkError) || e.errno !== ENOENT) throw e;
  }
  ctx.unreadable({ source, what: `generic netlink family ${name}`, reason: 'absent', message: `the ${name} module is not loaded in this kernel: nothing of it to read` });
  return undefined;
}
