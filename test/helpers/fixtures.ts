/**
 * The golden fixtures (fixtures/README.md, schema 1): one shape for every tool. Readers go through
 * here, so the schema is written down once, checked once (test/unit/fixtures.test.ts), and a new
 * capture (e.g. fixtures/nft/set-*.json) needs no new reader.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type Tool = 'nft' | 'tc';
export interface FixtureRun {
  /** the argv that ran, the tool's absolute path first */
  readonly command: readonly string[];
  /** files the command read (e.g. `nft -f setup.nft`), name → content */
  readonly files?: Readonly<Record<string, string>>;
  /** every netlink message the tool sent, in order (hex) */
  readonly messages: readonly string[];
  /** every message it received, in order (hex), where the capture traced recvmsg */
  readonly replies?: readonly string[];
  /** where the capture traced bpf(): the fd the run's BPF_OBJ_GET returned (tc/ip put it in TCA_BPF_FD / IFLA_XDP_FD) */
  readonly progFd?: number;
}
export interface Fixture {
  readonly schema: 1;
  /** the file name without .json */
  readonly name: string;
  readonly tool: Tool;
  /** `nft --version` / `tc -V` */
  readonly toolVersion: string;
  /** `uname -r` of the capture */
  readonly kernel: string;
  /** the script (and strace options) that wrote the file */
  readonly madeBy: string;
  /** why the bytes are as they are, and where pktmark differs on purpose */
  readonly note?: string;
  /** tc: the ifindex of d0 in the capture namespace */
  readonly ifindex?: number;
  readonly runs: readonly FixtureRun[];
}

const DIR = new URL('../../fixtures/', import.meta.url);
/** files in fixtures/<tool>/ that are inputs, not captures */
export const INPUTS: Readonly<Record<Tool, readonly string[]>> = { nft: ['cases.json'], tc: [] };

export function loadFixture(tool: Tool, name: string): Fixture {
  return JSON.parse(readFileSync(new URL(`${tool}/${name}.json`, DIR), 'utf8')) as Fixture;
}
/** every capture of a tool, by name */
export function fixtureNames(tool: Tool): string[] {
  return readdirSync(new URL(`${tool}/`, DIR)).filter((f) => f.endsWith('.json') && !INPUTS[tool].includes(f)).map((f) => f.slice(0, -5))
    .sort();
}
/** a tool's input file (e.g. fixtures/nft/cases.json), parsed */
export function loadInput<T>(tool: Tool, file: string): T {
  return JSON.parse(readFileSync(new URL(`${tool}/${file}`, DIR), 'utf8')) as T;
}

/** netlink message type of a hex message (host order) */
export const msgType = (hex: string): number => parseInt(hex.slice(10, 12) + hex.slice(8, 10), 16);
const NFNL_MSG_BATCH_BEGIN = 0x10, NFNL_MSG_BATCH_END = 0x11;

/** The nfnetlink batch a run sent: BATCH_BEGIN … BATCH_END (empty if it sent none). */
export function batchOf(run: FixtureRun): string[] {
  const begin = run.messages.findIndex((m) => msgType(m) === NFNL_MSG_BATCH_BEGIN);
  if (begin < 0) return [];
  const end = run.messages.findIndex((m, i) => i > begin && msgType(m) === NFNL_MSG_BATCH_END);
  return run.messages.slice(begin, end < 0 ? undefined : end + 1);
}
/** the batch of a one-command nft fixture */
export const nftBatch = (name: string): string[] => batchOf(loadFixture('nft', name).runs[0]);

const HEX = /^(?:[0-9a-f]{2})+$/;
/** What is wrong with a parsed fixture file against schema 1 (empty when nothing is). */
export function schemaProblems(x: unknown, tool: Tool, name: string): string[] {
  const p: string[] = [];
  const o = x as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) return ['not an object'];
  const allowed = new Set(['schema', 'name', 'tool', 'toolVersion', 'kernel', 'madeBy', 'note', 'ifindex', 'runs']);
  for (const k of Object.keys(o)) if (!allowed.has(k)) p.push(`unknown field ${k}`);
  if (o.schema !== 1) p.push('schema is not 1');
  if (o.name !== name) p.push(`name ${String(o.name)} is not the file's (${name})`);
  if (o.tool !== tool) p.push(`tool ${String(o.tool)} is not the directory's (${tool})`);
  for (const k of ['toolVersion', 'kernel', 'madeBy'] as const) if (typeof o[k] !== 'string' || o[k] === '') p.push(`${k} missing`);
  // fixtures/capture-nft.sh, capture-nft-sets.sh, capture-tc-bpf.sh, capture-nft-verify.sh, …: a capture script of the tool
  if (typeof o.madeBy === 'string' && !new RegExp(`^fixtures/capture-${tool}(-[a-z0-9]+)*\\.sh( |$)`).test(o.madeBy)) p.push('madeBy is not the capture script');
  if (o.note !== undefined && typeof o.note !== 'string') p.push('note is not a string');
  if (o.ifindex !== undefined && !Number.isInteger(o.ifindex)) p.push('ifindex is not an integer');
  if (tool === 'tc' && o.ifindex === undefined) p.push('tc fixture without ifindex');
  if (!Array.isArray(o.runs) || o.runs.length === 0) return [...p, 'no runs'];
  (o.runs as Record<string, unknown>[]).forEach((r, i) => {
    const rk = new Set(['command', 'files', 'messages', 'replies', 'progFd']);
    if (r.progFd !== undefined && !Number.isInteger(r.progFd)) p.push(`runs[${i}].progFd is not an integer`);
    for (const k of Object.keys(r)) if (!rk.has(k)) p.push(`runs[${i}]: unknown field ${k}`);
    const c = r.command;
    if (!Array.isArray(c) || c.length < 2 || !c.every((w) => typeof w === 'string')) p.push(`runs[${i}].command is not an argv`);
    // (tc fixtures may hold `ip link set … xdp…`: IFLA_XDP is a link attribute, sent by ip; nft ones iptables-nft's own batches)
    else if (c[0] !== `/usr/sbin/${tool}` && !(tool === 'tc' && c[0] === '/usr/sbin/ip') && !(tool === 'nft' && c[0] === '/usr/sbin/iptables-nft')) p.push(`runs[${i}].command does not start with /usr/sbin/${tool}`);
    if (r.files !== undefined && (typeof r.files !== 'object' || !Object.values(r.files as object).every((v) => typeof v === 'string'))) p.push(`runs[${i}].files is not name → text`);
    for (const k of ['messages', 'replies'] as const) {
      const m = r[k];
      if (m === undefined && k === 'replies') continue;
      if (!Array.isArray(m) || !m.every((h) => typeof h === 'string' && HEX.test(h) && h.length >= 32)) { p.push(`runs[${i}].${k} is not a list of hex messages`); continue; }
      for (const h of m as string[]) {
        const len = parseInt(h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2), 16);
        if (len * 2 !== h.length) { p.push(`runs[${i}].${k}: nlmsg_len ${len} is not the message's length ${h.length / 2}`); break; }
      }
    }
    if (Array.isArray(r.messages) && r.messages.length === 0) p.push(`runs[${i}] sent no message`);
  });
  return p;
}
