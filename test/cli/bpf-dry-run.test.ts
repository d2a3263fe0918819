/**
 * `--via bpf` / `--via xdp` through the existing CLI without root: --dry-run prints the rule line
 * and the disassembly; --dry-run --hex the program's instruction bytes (equal to the golden
 * fixture of the same shape) and the netlink messages with the placeholder fd 0.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { cli } from './cli.js';

const fixture = (name: string): { hex: string } => JSON.parse(readFileSync(new URL(`../../fixtures/bpf/${name}.json`, import.meta.url), 'utf8')) as { hex: string };

test('add --via bpf --dry-run --hex: program bytes = fixtures/bpf/tc-v4-src, then clsact and the cls_bpf filter (fd 0, name pktmark/bpf+q)', async (t) => {
  const r = await cli(['add', '--via', 'bpf', '--dev', 'd0', '--src', '10.0.0.1', '--mark', '0xdeadbeef', '--dry-run', '--hex', '--ifindex', '3'], { asNobody: process.getuid?.() === 0 });
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.regex(lines[0], /^# program pktmark_tc \(dev d0 ingress, \d+ instructions/);
  t.is(lines[1], fixture('tc-v4-src').hex);
  t.is(lines[2].slice(8, 12), '2400', 'RTM_NEWQDISC');
  t.is(lines[3].slice(8, 12), '2c00', 'RTM_NEWTFILTER');
  t.true(lines[3].includes(Buffer.from('pktmark/bpf+q\0').toString('hex')));
  t.true(lines[3].includes('0800060000000000'), 'TCA_BPF_FD = 0, the placeholder');
});

test('add --via xdp --dry-run --hex: XDP and copy programs, then clsact, copy filter and IFLA_XDP', async (t) => {
  const r = await cli(['add', '--via', 'xdp', '--dev', 'd0', '--src', '10.0.0.1', '--mark', '0xdeadbeef', '--dry-run', '--hex', '--ifindex', '3', '--json']);
  t.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { programs: { name: string; insns: string }[]; messages: string[] };
  t.deepEqual(j.programs.map((p) => p.name), ['pktmark_xdp', 'pktmark_xdpcp']);
  t.is(j.programs[1].insns, fixture('xdp-copy').hex);
  t.deepEqual(j.messages.map((m) => m.slice(8, 12)), ['2400', '2c00', '1000']);
});

test('explain --via bpf prints the rule line and the disassembly; bad fields name themselves', async (t) => {
  const r = await cli(['explain', '--via', 'bpf', '--dev', 'd0', '--src', '10.0.0.1', '--mark', '0xdeadbeef']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^# bpf: dev d0 ingress: ip saddr 10\.0\.0\.1 → mark 0xdeadbeef\n# cls_bpf direct-action program pktmark_tc/);
  t.regex(r.stdout, /\n0: \(bf\) r6 = r1\n/);
  const bad = await cli(['add', '--via', 'xdp', '--dev', 'd0', '--direction', 'egress', '--mark', '1', '--dry-run']);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /direction/);
});
