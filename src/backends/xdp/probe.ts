/**
 * xdp's probe, in doctor's throwaway namespace: load an XDP program (no rules, with its config
 * map), attach it to lo in generic mode and detach it again. Native mode depends on each
 * device's driver and cannot be probed on lo: reported as unknown.
 */
import { CONFIG_MAP_REF, xdpMetaProgram } from '../../../codecs/bpf/programs/index.js';
import { decodeLink } from '../../../codecs/tc/link.js';
import type { Check, ProbeContext, ProbeResult } from '../backend.js';
import { LO, probeCheck } from '../probe.js';
import { Fds, load, newConfigMap } from '../ebpf/set.js';
import { replaceXdp } from './attach.js';
import { encodeSetXdp, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST } from '../../../codecs/tc/xdp.js';
import { execute } from '../../transport/execute.js';

export async function probeXdp({ route }: ProbeContext): Promise<ProbeResult> {
  const { openBpf } = await import('../../transport/bpf.js');
  const fds = new Fds(openBpf());
  const checks: Check[] = [];
  try {
    const c = await probeCheck('XDP', 'an XDP program attached to lo in generic mode and detached', async () => {
      const fd = load(fds, xdpMetaProgram([], { config: CONFIG_MAP_REF }), newConfigMap(fds));
      await execute(route, 'attach XDP (generic) on lo', (w, seq) => encodeSetXdp(w, seq, { ifindex: LO, fd, flags: XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST }));
      await replaceXdp(route, { index: LO, name: 'lo', type: 772 } satisfies ReturnType<typeof decodeLink>, 'generic', -1, fd);
    });
    checks.push(c, { name: 'XDP native', status: 'unknown', detail: 'per driver: pktmark uses native mode on veth and generic elsewhere (see backends/xdp/attach.ts)' });
  } finally { fds.closeAll(); }
  return { checks, usable: checks[0].status === 'yes' };
}
