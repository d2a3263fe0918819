/**
 * The cgroup backend's probe: a cgroup2 mount, and a CGROUP_SOCK program that loads. Nothing is
 * attached: doctor probes inside a throwaway network namespace, but a cgroup attachment is
 * host-wide and would mark real sockets. The program and its map are closed (and so freed) at once.
 */
import { CONFIG_MAP_REF, cgroupSockProgram } from '../../../codecs/bpf/programs/index.js';
import { closeAll, createConfigMap, loadProgram } from '../ebpf/load.js';
import type { Check, ProbeResult } from '../backend.js';
import { probeCheck } from '../probe.js';
import { realCgroupFs } from '../../transport/cgroup-fs.js';

export async function probeCgroup(): Promise<ProbeResult> {
  const checks: Check[] = [];
  let mountPoint = '';
  checks.push(await probeCheck('cgroup2', '', async () => { mountPoint = realCgroupFs.mount().mountPoint; }));
  if (mountPoint) checks[0] = { ...checks[0], detail: `cgroup v2 at ${mountPoint}` };
  checks.push(await probeCheck('CGROUP_SOCK', 'sock_create program loads (not attached)', async () => {
    const sys = (await import('../../transport/bpf.js')).openBpf();
    const fds: number[] = [];
    try {
      const map = createConfigMap(sys, 1); fds.push(map);
      fds.push(loadProgram(sys, cgroupSockProgram({ config: CONFIG_MAP_REF }), map));
    } finally { closeAll(sys, fds.reverse()); }
  }));
  return { checks, usable: checks.every((c) => c.status === 'yes') };
}
