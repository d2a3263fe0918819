/**
 * `pktmark doctor`: what this kernel and this process can do. Every kernel probe runs inside a
 * throwaway network namespace made with unshare(CLONE_NEWNET) (no binary, no `ip netns`): the
 * sockets are opened there, the probes create and refuse objects only there (on its loopback
 * device), and the namespace disappears when the sockets close. The caller's namespace is
 * never touched.
 */
import { readFileSync } from 'node:fs';
import type { Transport } from '../../transport/transport.js';
import type { Check } from '../../backends/backend.js';
import type { Via } from '../../backends/index.js';
import { PktmarkError } from '../../errors.js';
import { EXIT_OK } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions } from '../options.js';
import { table } from '../output.js';

export type { Check };
export type Status = Check['status'];
export interface DoctorReport {
  checks: Check[];
  capNetAdmin: boolean;
  suggestedVia: Via | null;
  /** what to use for marking at tc level and for the earliest marking, when the probes say so */
  recommendations: string[];
}

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

function capabilities(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch { return 0n; }
}
const has = (caps: bigint, bit: number): boolean => ((caps >> BigInt(bit)) & 1n) === 1n;

export async function runDoctor(): Promise<DoctorReport> {
  const caps = capabilities();
  const capNetAdmin = has(caps, CAP_NET_ADMIN);
  const checks: Check[] = [{ name: 'CAP_NET_ADMIN', status: capNetAdmin ? 'yes' : 'no', detail: capNetAdmin ? 'effective capability of this process' : 'not held: pktmark can only --dry-run here (run as root or with CAP_NET_ADMIN)' }];
  const names = ['nf_tables', 'limit', 'cls_u32', 'act_skbedit', 'act_police', 'bpf program load', 'cls_bpf', 'XDP', 'XDP native', 'cgroup2', 'CGROUP_SOCK'];

  const { NetlinkSocket } = await import('../../transport/netlink-socket.js');
  const { withThrowawayNetns } = await import('../../transport/netns.js');
  const { NETLINK_NETFILTER, NETLINK_ROUTE } = await import('../../transport/transport.js');
  let route: Transport | undefined, nf: Transport | undefined;
  try {
    withThrowawayNetns(() => {
      route = NetlinkSocket.open({ protocol: NETLINK_ROUTE });
      nf = NetlinkSocket.open({ protocol: NETLINK_NETFILTER });
    });
  } catch (e) {
    route?.close(); nf?.close();
    const reason = `not probed: cannot make a throwaway namespace (${has(caps, CAP_SYS_ADMIN) ? (e instanceof PktmarkError ? e.toLine() : String(e)) : 'needs root (CAP_SYS_ADMIN)'})`;
    for (const n of names) checks.push({ name: n, status: 'unknown', detail: reason });
    return { checks, capNetAdmin, suggestedVia: capNetAdmin ? 'nft' : null, recommendations: [] };
  }
  let usable: Via[];
  try {
    const r = await kernelProbes(route!, nf!);
    checks.push(...r.checks);
    usable = r.usable;
  } finally {
    route!.close(); nf!.close();
  }
  return { checks, capNetAdmin, suggestedVia: usable[0] ?? null, recommendations: recommend(checks, usable) };
}

/** Every registered backend's probe, in registry order (cls_bpf and XDP are the bpf and xdp backends' probes). */
async function kernelProbes(route: Transport, nf: Transport): Promise<{ checks: Check[]; usable: Via[] }> {
  const { Marker } = await import('../../marker.js');
  const { BACKENDS, VIAS } = await import('../../backends/index.js');
  const { NETLINK_ROUTE } = await import('../../transport/transport.js');

  // the Marker must not close the probe sockets: runDoctor does, after every probe
  const keep = (t: Transport): Transport => ({ protocol: t.protocol, nextSeq: () => t.nextSeq(), exchange: (b, w) => t.exchange(b, w), close: () => undefined });
  const marker = await Marker.open({ table: 'pktmark_doctor', transport: (p) => keep(p === NETLINK_ROUTE ? route : nf) });
  const checks: Check[] = [];
  const usable: Via[] = [];
  try {
    for (const via of VIAS) {
      const r = await BACKENDS[via].probe({ route, nf, marker });
      checks.push(...r.checks);
      if (r.usable) usable.push(via);
    }
  } finally {
    await marker.close();
  }
  return { checks, usable };
}

/** tc-level marking without act_skbedit → bpf; the earliest marking (before the skb exists) → xdp. */
function recommend(checks: readonly Check[], usable: readonly Via[]): string[] {
  const out: string[] = [];
  const skbedit = checks.find((c) => c.name === 'act_skbedit')?.status === 'yes';
  if (usable.includes('bpf')) {
    out.push(skbedit ? 'tc-level marking: --via tc (act_skbedit works), or --via bpf' : 'tc-level marking: --via bpf (act_skbedit is missing; cls_bpf sets the mark itself)');
  }
  if (usable.includes('xdp')) out.push('earliest marking on the way in: --via xdp (XDP metadata + tc copy)');
  return out;
}

export async function doctorCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('doctor', argv, base, {}, g);
  if (p.help) { io.out(helpText('doctor')); return EXIT_OK; }
  noDryRun('doctor', g);
  const report = await runDoctor();
  if (g.json) { io.out(JSON.stringify(report)); return EXIT_OK; }
  for (const l of table(['CHECK', 'RESULT', 'DETAIL'], report.checks.map((c) => [c.name, c.status, c.detail]))) io.out(l);
  io.out('');
  io.out(report.suggestedVia ? `suggested: --via ${report.suggestedVia}` : 'suggested: none of the backends works here');
  for (const r of report.recommendations) io.out(r);
  return EXIT_OK;
}
