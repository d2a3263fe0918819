import type { ProbeContext, ProbeResult } from '../backend.js';
import { probeCheck } from '../probe.js';

/** nf_tables with a base chain and a meta mark rule, and the limit expression. */
export async function probeNft({ marker }: ProbeContext): Promise<ProbeResult> {
  const nf = await probeCheck('nf_tables', 'inet table, base chain and a meta mark rule accepted', () => marker.add({ mark: 1 }));
  const limit = await probeCheck('limit', 'nft limit expression accepted', () => marker.add({ mark: 1, rate: '1/second', burst: 1 }));
  return { checks: [nf, limit], usable: nf.status === 'yes' };
}
