/**
 * `pktmark doctor`: what this kernel and this process can do. Every kernel probe runs inside a
 * throwaway network namespace made with unshare(CLONE_NEWNET) (no binary, no `ip netns`): the
 * sockets are opened there, the probes create and refuse objects only there (on its loopback
 * device), and the namespace disappears when the sockets close. The caller's namespace is
 * never touched.
 */
import { readFileSync } from 'node:fs';
import type { Transport } from '../../transport/transport.js';
import { EINVAL } from '../../../codecs/errno.js';
import { PktmarkError } from '../../errors.js';
import { EXIT_OK } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions } from '../options.js';
import { table } from '../output.js';

export type Status = 'yes' | 'no' | 'unknown';
export interface Check { name: string; status: Status; detail: string }
export interface DoctorReport { checks: Check[]; capNetAdmin: boolean; suggestedVia: 'nft' | 'tc' | null }

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const LO = 1; // the loopback device is ifindex 1 in every new namespace

function capabilities(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch { return 0n; }
}
const has = (caps: bigint, bit: number): boolean => ((caps >> BigInt(bit)) & 1n) === 1n;

const why = (e: unknown): string => (e instanceof PktmarkError ? e.toLine() : e instanceof Error ? e.message : String(e));

async function probe(name: string, detailOk: string, fn: () => Promise<unknown>, classify?: (e: unknown) => Status | undefined): Promise<Check> {
  try {
    await fn();
    return { name, status: 'yes', detail: detailOk };
  } catch (e) {
    return { name, status: classify?.(e) ?? 'no', detail: why(e) };
  }
}

export async function runDoctor(): Promise<DoctorReport> {
  const caps = capabilities();
  const capNetAdmin = has(caps, CAP_NET_ADMIN);
  const checks: Check[] = [{ name: 'CAP_NET_ADMIN', status: capNetAdmin ? 'yes' : 'no', detail: capNetAdmin ? 'effective capability of this process' : 'not held: pktmark can only --dry-run here (run as root or with CAP_NET_ADMIN)' }];
  const names = ['nf_tables', 'limit', 'cls_u32', 'act_skbedit', 'act_police', 'cls_bpf', 'XDP'];

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
    const reason = `not probed: cannot make a throwaway namespace (${has(caps, CAP_SYS_ADMIN) ? why(e) : 'needs root (CAP_SYS_ADMIN)'})`;
    for (const n of names) checks.push({ name: n, status: 'unknown', detail: reason });
    return { checks, capNetAdmin, suggestedVia: capNetAdmin ? 'nft' : null };
  }
  try {
    checks.push(...await kernelProbes(route!, nf!));
  } finally {
    route!.close(); nf!.close();
  }
  const ok = (n: string): boolean => checks.find((c) => c.name === n)?.status === 'yes';
  const suggestedVia = ok('nf_tables') ? 'nft' : ok('cls_u32') && ok('act_skbedit') ? 'tc' : null;
  return { checks, capNetAdmin, suggestedVia };
}

async function kernelProbes(route: Transport, nf: Transport): Promise<Check[]> {
  const { Marker } = await import('../../marker.js');
  const { NETLINK_ROUTE } = await import('../../transport/transport.js');
  const { execute } = await import('../../transport/execute.js');
  const { ruleToFilter, ruleActions } = await import('../../backends/tc-rule.js');
  const { normalizeRule } = await import('../../rule.js');
  const { encodeNewFilter } = await import('../../../codecs/tc/filter.js');
  const { encodeNewIngressQdisc } = await import('../../../codecs/tc/qdisc.js');
  const { PARENT_INGRESS, ETH_P_ALL } = await import('../../../codecs/tc/constants.js');
  const { writeMessage, NLM_F_REQUEST, NLM_F_ACK } = await import('../../../codecs/netlink/message.js');
  const { ifinfomsg } = await import('../../../codecs/tc/link.js');

  // the Marker must not close the probe sockets: runDoctor does, after every probe
  const keep = (t: Transport): Transport => ({ protocol: t.protocol, nextSeq: () => t.nextSeq(), exchange: (b, w) => t.exchange(b, w), close: () => undefined });
  const m = await Marker.open({ table: 'pktmark_doctor', transport: (p) => keep(p === NETLINK_ROUTE ? route : nf) });
  const out: Check[] = [];
  try {
    out.push(await probe('nf_tables', 'inet table, base chain and a meta mark rule accepted', () => m.add({ mark: 1 })));
    out.push(await probe('limit', 'nft limit expression accepted', () => m.add({ mark: 1, rate: '1/second', burst: 1 })));

    const tcRule = normalizeRule({ via: 'tc', dev: 'lo', mark: 1, rate: '1/second', burst: 1 });
    const base = ruleToFilter(tcRule, { ifindex: LO, qdisc: 'clsact' });
    const u32 = base.options as Extract<NonNullable<typeof base.options>, { kind: 'u32' }>;
    const [police, skbedit] = ruleActions(tcRule);
    const filter = (prio: number, actions: typeof u32.actions) => (w: Parameters<typeof encodeNewFilter>[0], seq: number): void =>
      encodeNewFilter(w, seq, { ...base, prio, parent: PARENT_INGRESS, protocol: ETH_P_ALL, options: { ...u32, actions } });
    const clsact = await probe('clsact', '', () => execute(route, 'add clsact qdisc', (w, seq) => encodeNewIngressQdisc(w, seq, LO, 'clsact')));
    const tcUnknown = (c: Check): Check => ({ ...c, status: 'unknown', detail: `not probed: the clsact qdisc was refused (${clsact.detail})` });

    const u32Check = await probe('cls_u32', 'u32 filter accepted', () => execute(route, 'add u32 filter', filter(1, [])));
    out.push(clsact.status === 'yes' ? u32Check : tcUnknown(u32Check));
    // Actions are loaded when a filter that uses them is added; a u32 filter carrying only that action says whether it exists.
    for (const [name, prio, action] of [['act_skbedit', 2, { ...skbedit, order: 1 }], ['act_police', 3, { ...police, order: 1 }]] as const) {
      const c = await probe(name, `${name.slice(4)} action accepted`, () => execute(route, `add u32 filter with ${name.slice(4)}`, filter(prio, [action])));
      out.push(u32Check.status === 'yes' ? c : { ...c, status: 'unknown', detail: `not probed: needs cls_u32 (${c.detail})` });
    }
    // cls_bpf without options: the kernel refuses with EINVAL when cls_bpf exists, ENOENT when it does not.
    out.push(await probe('cls_bpf', '', () => execute(route, 'add bpf filter', (w, seq) => encodeNewFilter(w, seq, { ifindex: LO, parent: PARENT_INGRESS, prio: 4, protocol: ETH_P_ALL, handle: 0, kind: 'bpf' })),
      (e) => (e instanceof PktmarkError && e.errno === EINVAL ? 'yes' : undefined)));
    const bpf = out.at(-1)!;
    if (bpf.status === 'yes') bpf.detail = 'bpf classifier known (refused an empty filter with EINVAL, as expected)';
    // XDP: detach (fd -1) in generic mode on lo — accepted wherever the kernel has XDP, changes nothing.
    out.push(await probe('XDP', 'IFLA_XDP accepted (generic mode detach on lo)', () => execute(route, 'set XDP on lo', (w, seq) => {
      writeMessage(w, 19 /* RTM_SETLINK */, NLM_F_REQUEST | NLM_F_ACK, seq, () => {
        w.struct(ifinfomsg, { family: 0, type: 0, index: LO, flags: 0, change: 0 });
        w.nested(43 /* IFLA_XDP */, () => { w.i32(1 /* IFLA_XDP_FD */, -1); w.u32(3 /* IFLA_XDP_FLAGS */, 2 /* XDP_FLAGS_SKB_MODE */); });
      });
    })));
  } finally {
    await m.close();
  }
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
  return EXIT_OK;
}
