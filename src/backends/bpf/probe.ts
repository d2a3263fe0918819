/**
 * bpf's probe, in doctor's throwaway namespace: load a one-rule tc marker with its config map
 * (proves BPF_PROG_LOAD of SCHED_CLS and the verifier on this kernel), then attach it as a
 * cls_bpf direct-action filter on lo's clsact ingress. Everything goes with the namespace; the
 * fds are closed here.
 */
import { CONFIG_MAP_REF, tcMarkerProgram } from '../../../codecs/bpf/programs/index.js';
import { EEXIST } from '../../../codecs/errno.js';
import { encodeNewIngressQdisc } from '../../../codecs/tc/qdisc.js';
import { PktmarkError } from '../../errors.js';
import { normalizeWith } from '../../rule.js';
import { execute } from '../../transport/execute.js';
import type { Check, ProbeContext, ProbeResult } from '../backend.js';
import { LO, probeCheck } from '../probe.js';
import { bpfFilter, putBpfFilter } from '../ebpf/clsbpf.js';
import { Fds, load, newConfigMap } from '../ebpf/set.js';
import { ruleToSpec } from '../ebpf/spec.js';
import { bpfFields } from './fields.js';

export async function probeBpf({ route }: ProbeContext): Promise<ProbeResult> {
  const { openBpf } = await import('../../transport/bpf.js');
  const fds = new Fds(openBpf());
  const checks: Check[] = [];
  try {
    let fd = -1;
    const rule = normalizeWith(bpfFields, { via: 'bpf', dev: 'lo', src: '10.0.0.1', mark: 1 });
    const loadCheck = await probeCheck('bpf program load', 'a tc marker (SCHED_CLS) passed the verifier', async () => {
      fd = load(fds, tcMarkerProgram([{ slot: 0, spec: ruleToSpec(rule) }], { config: CONFIG_MAP_REF }), newConfigMap(fds));
    });
    checks.push(loadCheck);
    const cls = await probeCheck('cls_bpf', 'a direct-action cls_bpf filter with pktmark\'s program attached on lo', async () => {
      if (fd < 0) throw new PktmarkError('UNSUPPORTED', `not probed: no program (${loadCheck.detail})`);
      try { await execute(route, 'add clsact qdisc', (w, seq) => encodeNewIngressQdisc(w, seq, LO, 'clsact')); } catch (e) { if (!(e instanceof PktmarkError && e.errno === EEXIST)) throw e; }
      await putBpfFilter(route, bpfFilter({ ifindex: LO, direction: 'ingress', prio: 5, handle: 0 }, fd, 'bpf', true), false, 'add bpf filter on lo');
    });
    checks.push(loadCheck.status === 'yes' ? cls : { ...cls, status: 'unknown' });
  } finally { fds.closeAll(); }
  return { checks, usable: checks.every((c) => c.status === 'yes') };
}
