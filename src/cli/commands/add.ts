/** `pktmark add` and `pktmark explain`: one rule from options. */
import type { MarkRuleInput } from '../../rule.js';
import { VIAS, viaWords } from '../../backends/index.js';
import { addRules } from '../apply.js';
import { UsageError, EXIT_OK } from '../errors.js';
import type { GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions, str, type OptionSpec } from '../options.js';

/** option → MarkRuleInput field (the option names are the field names) */
export const RULE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  '--via': { value: viaWords() },
  '--family': { value: 'ip or ip6' },
  '--hook': { value: 'prerouting or output' },
  '--dev': { value: 'an interface' },
  '--direction': { value: 'ingress or egress' },
  '--prio': { value: 'a number 1-65535' },
  '--cgroup': { value: 'a cgroup v2 path' },
  '--src': { value: 'ADDR[/LEN] or @FILE' },
  '--dst': { value: 'ADDR[/LEN] or @FILE' },
  '--proto': { value: 'a protocol' },
  '--sport': { value: 'a port' },
  '--dport': { value: 'a port' },
  '--iif': { value: 'an interface' },
  '--oif': { value: 'an interface' },
  '--mark': { value: 'V[/M]' },
  '--rate': { value: 'N/second|minute|hour|day' },
  '--burst': { value: 'a number' },
  '--comment': { value: 'text' },
};

export async function parseRule(cmd: string, argv: readonly string[], base: number, g: GlobalOptions): Promise<{ input?: MarkRuleInput; help: boolean; strict?: boolean; noCheck?: boolean }> {
  const p = parseOptions(cmd, argv, base, cmd === 'add' ? { ...RULE_OPTIONS, '--strict': {}, '--no-check': {} } : RULE_OPTIONS, g);
  if (p.options.has('--strict') && p.options.has('--no-check')) throw new UsageError('INVALID_OPTION', '--strict needs the scan that --no-check skips', { field: '--no-check' });
  if (p.help) return { help: true };
  const input: Record<string, string | string[]> = {};
  for (const [k, v] of p.options) if (typeof v === 'string') input[k.slice(2)] = v;
  // --src @FILE / --dst @FILE: an address list, one rule with an nft set (commands/set.ts reads it)
  for (const k of ['src', 'dst']) {
    const v = input[k];
    if (typeof v === 'string' && v.startsWith('@')) input[k] = (await import('./set.js')).readAddressFile(v.slice(1), `--${k}`);
  }
  if (str(p, '--mark') === undefined) {
    throw new UsageError('INVALID_OPTION', `${cmd} needs --mark V[/M]`, { field: '--mark', hint: `e.g. pktmark ${cmd} --src 10.0.0.1 --mark 0xdeadbeef` });
  }
  return { input: input as unknown as MarkRuleInput, help: false, ...(p.options.has('--strict') ? { strict: true } : {}), ...(p.options.has('--no-check') ? { noCheck: true } : {}) };
}

export async function addCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const { input, help, strict, noCheck } = await parseRule('add', argv, base, g);
  if (help || !input) { io.out(helpText('add', VIAS)); return EXIT_OK; }
  // --no-check: no live scan (scripts adding many rules); an auto mark still needs one
  await addRules([input], g, io, noCheck ? {} : { check: { strict: strict === true } });
  return EXIT_OK;
}

/** `explain`: the nft/tc line (never sends; like add --dry-run). */
export async function explainCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const dg = { ...g, dryRun: true }; // before parsing, so that --hex (which needs --dry-run) is accepted
  const { input, help } = await parseRule('explain', argv, base, dg);
  if (help || !input) { io.out(helpText('explain', VIAS)); return EXIT_OK; }
  await addRules([input], dg, io);
  return EXIT_OK;
}
