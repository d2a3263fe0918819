/**
 * The one place the CLI touches the library: open a Marker (lazily imported, so `--help` and
 * parsing never load it), add rules or print what adding them would send (dry-run: no socket,
 * no koffi, no privileges).
 */
import { readFileSync } from 'node:fs';
import type { Marker } from '../marker.js';
import type { NetlinkProtocol, Transport } from '../transport/transport.js';
import type { MarkRule, MarkRuleInput } from '../rule.js';
import type { AddOptions, RuleRecord } from '../backends/backend.js';
import { PktmarkError } from '../errors.js';
import type { GlobalOptions } from './global.js';
import type { Io } from './io.js';
import { hex, rulesJson } from './output.js';

export async function openMarker(g: GlobalOptions): Promise<Marker> {
  const { Marker } = await import('../marker.js');
  return Marker.open({
    ...(g.netns !== undefined ? { netns: g.netns } : {}), ...(g.table !== undefined ? { table: g.table } : {}),
    ...(g.inject?.transport ? { transport: g.inject.transport } : {}), ...(g.inject?.bpf ? { bpf: g.inject.bpf } : {}),
  });
}

/** A bare netlink transport for the CLI's few direct requests (tc qdisc add/del), injected in tests. */
export async function openTransport(g: GlobalOptions, protocol: NetlinkProtocol): Promise<Transport> {
  if (g.inject?.transport) return g.inject.transport(protocol);
  const { NetlinkSocket } = await import('../transport/netlink-socket.js');
  return NetlinkSocket.open({ protocol, ...(g.netns !== undefined ? { netns: g.netns } : {}) });
}

export async function withMarker<T>(g: GlobalOptions, fn: (m: Marker) => Promise<T>): Promise<T> {
  const m = await openMarker(g);
  try { return await fn(m); } finally { await m.close(); }
}

/** Validate every rule before anything is opened or sent. */
export async function normalizeAll(inputs: readonly MarkRuleInput[]): Promise<MarkRule[]> {
  const { normalizeRule } = await import('../normalize.js');
  return inputs.map((r) => normalizeRule(r));
}

/**
 * Device → ifindex for dry-run encoding of tc rules: --ifindex DEV=N, then --ifindex N, then
 * /sys/class/net/DEV/ifindex (only meaningful for the caller's own namespace).
 */
export function ifindexResolver(g: GlobalOptions): (dev: string) => number {
  return (dev) => {
    const n = g.ifindex.get(dev) ?? g.ifindexAny;
    if (n !== undefined) return n;
    if (g.netns === undefined) {
      try { return Number(readFileSync(`/sys/class/net/${dev}/ifindex`, 'utf8').trim()); } catch { /* fall through to the error */ }
    }
    throw new PktmarkError('INVALID_OPTION', `the ifindex of device ${JSON.stringify(dev)} is needed to encode a tc rule and cannot be read here`, {
      field: '--ifindex', hint: `give it: --ifindex ${dev}=N (see \`ip link show ${dev}\`)`,
    });
  };
}

/** Print the equivalent command lines, or with --hex every message `add` would send. */
export async function dryRunAdd(inputs: readonly MarkRuleInput[], g: GlobalOptions, io: Io, place: AddOptions = {}): Promise<void> {
  const { encode, encodePrograms, explain } = await import('../marker.js');
  const table = g.table === undefined ? {} : { table: g.table };
  const commands = inputs.map((r) => explain(r, { ...table, ...(place.first ? { first: true } : {}) }));
  const messages = g.hex ? encode(inputs, { ...table, ...place, ifindex: ifindexResolver(g) }).map(hex) : undefined;
  // bpf/xdp: the instruction bytes too (program and map fds in them and in the messages are the placeholder 0)
  const programs = g.hex ? encodePrograms(inputs).map((p) => ({ name: p.name, where: p.where, insns: hex(p.insns) })) : [];
  if (g.json) {
    io.out(JSON.stringify({ dryRun: true, commands, ...(messages ? { messages } : {}), ...(programs.length ? { programs } : {}) }));
    return;
  }
  for (const p of programs) io.out(`# program ${p.name} (${p.where}, ${p.insns.length / 16} instructions; fds are the placeholder 0)\n${p.insns}`);
  for (const line of messages ?? commands) io.out(line);
}

export function printRecords(records: readonly RuleRecord[], g: GlobalOptions, io: Io): void {
  if (g.json) { io.out(JSON.stringify(rulesJson(records))); return; }
  for (const r of records) io.out(`${r.id}\t${r.text}`);
}

const isAuto = (r: MarkRuleInput): boolean => typeof r.mark === 'string' && /^\s*auto\b/i.test(r.mark);

/**
 * add (native and fronts): validate all, then one atomic add, or the dry-run output. With
 * `check` (native add), a live scan first: auto marks are picked, overlaps with live users warned
 * about on stderr, or with `strict` refused (MARK_CONFLICT) before anything is sent.
 */
export async function addRules(inputs: readonly MarkRuleInput[], g: GlobalOptions, io: Io, opts: { print?: boolean; place?: AddOptions; check?: { strict: boolean } } = {}): Promise<RuleRecord[]> {
  // an auto mark is validated with a stand-in value here (dry-run refuses it, with a hint), the rest as given
  await normalizeAll(g.dryRun ? inputs : inputs.map((r) => (isAuto(r) ? { ...r, mark: '0x1/0x1' } : r)));
  if (g.dryRun) { await dryRunAdd(inputs, g, io, opts.place); return []; }
  const records = await withMarker(g, async (m) => {
    if (!opts.check && !inputs.some(isAuto)) return m.add(inputs, opts.place ?? {});
    const { checkAdd } = await import('../conflicts/add-check.js');
    const { conflictError, describeUser } = await import('../conflicts/auto.js');
    const { REGISTRY_ATTRIBUTION } = await import('../registry/index.js');
    const c = checkAdd(inputs, (await m.conflicts({ skipOwn: true })).users);
    for (const o of c.overlaps) {
      if (opts.check?.strict) throw conflictError(o.users, o.mark, o.mask);
      for (const u of o.users) io.err(`pktmark: warning: mark 0x${o.mark.toString(16)}/0x${o.mask.toString(16)} overlaps a live user: ${describeUser(u)}`);
    }
    for (const ch of c.choices) io.err(`pktmark: --mark auto chose 0x${ch.mark.toString(16)}/0x${ch.mask.toString(16)}: ${ch.why}`);
    if (c.choices.some((ch) => /registry names/.test(ch.why))) io.err(`pktmark: ${REGISTRY_ATTRIBUTION}`);
    return m.add(c.inputs, opts.place ?? {});
  });
  if (opts.print !== false) printRecords(records, g, io);
  return records;
}
