/**
 * `--json` output against its documented shape (src/cli/README-json.md): every key present with
 * its documented type, and nothing undocumented.
 */
import test from 'ava';
import { liveTest, withNetns } from '../helpers/netns.js';
import { kernelFeatures } from '../helpers/kernel-features.js';
import { cli } from './cli.js';
import { VIAS } from '../../src/backends/index.js';

type Shape = Record<string, (v: unknown) => boolean>;
const str = (v: unknown): boolean => typeof v === 'string';
const num = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const bool = (v: unknown): boolean => typeof v === 'boolean';
const or = (...fs: ((v: unknown) => boolean)[]) => (v: unknown): boolean => fs.some((f) => f(v));
const nul = (v: unknown): boolean => v === null;
const oneOf = (...xs: unknown[]) => (v: unknown): boolean => xs.includes(v);
const arrayOf = (f: (v: unknown) => boolean) => (v: unknown): boolean => Array.isArray(v) && v.every(f);
const hexStr = (v: unknown): boolean => typeof v === 'string' && /^0x[0-9a-f]+$/.test(v);
const obj = (shape: Shape) => (v: unknown): boolean => {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return Object.keys(shape).every((k) => k in o && shape[k](o[k])) && Object.keys(o).every((k) => k in shape);
};

const FAMILY = oneOf('ip', 'ip6');
const LIST = obj({ entries: arrayOf(str), families: arrayOf(FAMILY), interval: arrayOf(FAMILY) });
export const RULE: Shape = {
  id: str, via: oneOf('nft', 'tc'), decoded: bool, family: or(nul, oneOf('ip', 'ip6')), hook: or(nul, oneOf('prerouting', 'output')),
  dev: or(nul, str), direction: or(nul, oneOf('ingress', 'egress')), prio: or(nul, num), src: or(nul, str), dst: or(nul, str),
  srcList: or(nul, LIST), dstList: or(nul, LIST),
  proto: or(nul, str), sport: or(nul, num, str), dport: or(nul, num, str), iif: or(nul, str), oif: or(nul, str), mark: or(nul, hexStr),
  mask: or(nul, hexStr), xor: bool, rate: or(nul, str), burst: or(nul, num), comment: or(nul, str), packets: num, bytes: num,
  connmark: or(nul, (v) => typeof v === 'object' && v !== null && ['set', 'save', 'restore'].includes((v as { op: string }).op)), chain: or(nul, str), jump: or(nul, str),
  text: str, raw: arrayOf(obj({ name: str, hex: str })), ipft: or(nul, arrayOf(str)),
};
const RULES = obj({ version: (v) => v === 3, rules: arrayOf(obj(RULE)) });
const ERROR = obj({ error: (v) => {
  const e = v as Record<string, unknown>;
  return str(e.code) && str(e.message) && num(e.exitCode) && Object.keys(e).every((k) => ['code', 'message', 'field', 'errno', 'extack', 'extackOffset', 'messageIndex', 'offset', 'hint', 'exitCode'].includes(k));
} });
const DRY = obj({ dryRun: (v) => v === true, commands: arrayOf(str), messages: arrayOf((v) => typeof v === 'string' && /^[0-9a-f]+$/.test(v)) });
const DRY_TEXT = obj({ dryRun: (v) => v === true, commands: arrayOf(str) });
const DOCTOR = obj({
  checks: arrayOf(obj({ name: str, status: oneOf('yes', 'no', 'unknown'), detail: str })), capNetAdmin: bool, suggestedVia: or(nul, oneOf(...VIAS)), recommendations: arrayOf(str),
});

const json = (s: string): unknown => JSON.parse(s);

test('--json dry-run and errors (no root needed)', async (t) => {
  const d = await cli(['--json', '--dry-run', '--hex', 'add', '--src', '10.0.0.1', '--mark', '1']);
  t.true(DRY(json(d.stdout)), d.stdout);
  const d2 = await cli(['--dry-run', 'add', '--src', '10.0.0.1', '--mark', '1', '--json']);
  t.true(DRY_TEXT(json(d2.stdout)), d2.stdout);
  const e = await cli(['--json', 'add', '--mark', '0x1g']);
  t.is(e.code, 1);
  t.true(ERROR(json(e.stderr)), e.stderr);
  t.like(json(e.stderr), { error: { code: 'INVALID_MARK', field: 'mark', exitCode: 1 } });
  const u = await cli(['--json', 'iptables', '-t', 'nat', '-A', 'PREROUTING']);
  t.like(json(u.stderr), { error: { code: 'UNSUPPORTED', exitCode: 2 } });
});

liveTest('--json add, list, del, clear, iptables -L and doctor have their documented shapes', async (t) => {
  await withNetns(async (ns) => {
    const g = ['--netns', ns.name, '--json'];
    const a = await cli([...g, 'add', '--proto', 'tcp', '--dport', '22', '--mark', '0x10/0xf0', '--rate', '5/minute', '--comment', 'ssh']);
    t.is(a.code, 0, a.stderr);
    t.true(RULES(json(a.stdout)), a.stdout);
    const rule = (json(a.stdout) as { rules: Record<string, unknown>[] }).rules[0];
    t.like(rule, { via: 'nft', decoded: true, hook: 'prerouting', proto: 'tcp', dport: 22, mark: '0x10', mask: '0xf0', xor: false, rate: '5/minute', burst: 5, comment: 'ssh', packets: 0 });
    const x = await cli([...g, 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-s', '10.0.0.1', '-j', 'MARK', '--xor-mark', '0x3']);
    t.true(RULES(json(x.stdout)), x.stdout);
    t.like((json(x.stdout) as { rules: unknown[] }).rules[0], { src: '10.0.0.1/32', family: 'ip', mark: '0x3', mask: '0x0', xor: true });
    const l = await cli([...g, 'list']);
    t.true(RULES(json(l.stdout)));
    t.is((json(l.stdout) as { rules: unknown[] }).rules.length, 2);
    const il = await cli([...g, 'iptables', '-L', '-n']);
    t.true(RULES(json(il.stdout)));
    const del = await cli([...g, 'del', rule.id as string]);
    t.deepEqual(json(del.stdout), { deleted: [rule.id] });
    const c = await cli([...g, 'clear']);
    // every registered backend's clear ran (cgroup's does nothing under --netns: it is host-wide)
    t.deepEqual(json(c.stdout), { cleared: [...VIAS] });
  });
  const d = await cli(['--json', 'doctor']);
  t.is(d.code, 0, d.stderr);
  t.true(DOCTOR(json(d.stdout)), d.stdout);
  const checks = (json(d.stdout) as { checks: { name: string; status: string }[] }).checks;
  t.deepEqual(checks.map((c) => c.name), ['CAP_NET_ADMIN', 'nf_tables', 'limit', 'cls_u32', 'act_skbedit', 'act_police', 'bpf program load', 'cls_bpf', 'XDP', 'XDP native', 'cgroup2', 'CGROUP_SOCK']);
  // doctor (pktmark's own bytes) and the tests' probes (tc as the oracle) see the same kernel
  const k = await kernelFeatures();
  const status = (n: string): string | undefined => checks.find((c) => c.name === n)?.status;
  for (const f of ['cls_u32', 'act_skbedit', 'act_police', 'cls_bpf'] as const) t.is(status(f), k[f].available ? 'yes' : 'no', `doctor ${f} vs ${k[f].detail}`);
});
