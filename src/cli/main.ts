/**
 * `pktmark` command line: global options, then a command. Every command module is imported
 * on demand, so `pktmark --help` loads only this file and help.ts, and `--dry-run` never loads
 * koffi or opens a socket.
 */
import { readFileSync } from 'node:fs';
import { isPermissionErrno } from '../../codecs/errno.js';
import { PktmarkError } from '../errors.js';
import { EXIT_OK, EXIT_RULE, NEEDS_ROOT, UsageError, exitCodeOf } from './errors.js';
import { newGlobalOptions, noDryRun, takeGlobal, type CliInjection, type GlobalOptions } from './global.js';
import { processIo, terminalIo, type Io } from './io.js';
import { safeField } from '../terminal-text.js';
import { Words } from './words.js';

type Command = (argv: readonly string[], base: number, g: GlobalOptions, io: Io) => Promise<number>;

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  add: async () => (await import('./commands/add.js')).addCommand,
  explain: async () => (await import('./commands/add.js')).explainCommand,
  list: async () => (await import('./commands/list.js')).listCommand,
  del: async () => (await import('./commands/list.js')).delCommand,
  delete: async () => (await import('./commands/list.js')).delCommand,
  clear: async () => (await import('./commands/list.js')).clearCommand,
  set: async () => (await import('./commands/set.js')).setCommand,
  apply: async () => (await import('./commands/apply-file.js')).applyFileCommand,
  agent: async () => (await import('./commands/agent.js')).agentCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  marks: async () => (await import('./commands/marks.js')).marksCommand,
  verify: async () => (await import('./commands/verify.js')).verifyCommand,
  'ipft-args': async () => (await import('./commands/ipft-args.js')).ipftArgsCommand,
  conflicts: async () => (await import('./commands/conflicts.js')).conflictsCommand,
  iptables: async () => (await import('./fronts/iptables.js')).iptablesFront('ip'),
  ip6tables: async () => (await import('./fronts/iptables.js')).iptablesFront('ip6'),
  'iptables-restore': async () => (await import('./fronts/restore.js')).restoreFront('ip'),
  'ip6tables-restore': async () => (await import('./fronts/restore.js')).restoreFront('ip6'),
  'iptables-save': async () => (await import('./fronts/restore.js')).saveFront('ip'),
  'ip6tables-save': async () => (await import('./fronts/restore.js')).saveFront('ip6'),
  tc: async () => (await import('./fronts/tc.js')).tcFront,
  ping: async () => async (argv, _base, g, io) => {
    noDryRun('ping', g);
    // ping parses its own options (it takes --netns too); a global --netns is passed on in front
    const { pingCommand } = await import('./commands/ping.js');
    return pingCommand([...(g.netns !== undefined ? ['--netns', g.netns] : []), ...argv], io);
  },
};

export async function version(): Promise<string> {
  // src/cli/main.ts, dist/src/cli/main.js and the bundle dist/pktmark-main.cjs sit 2, 3 and 1 levels below package.json
  for (const up of ['../../package.json', '../../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pktmark') return pkg.version ?? 'unknown';
    } catch { /* try the next level */ }
  }
  return 'unknown';
}

/** Print one error as the CLI does (one line, or JSON), and return its exit code. */
export function report(e: unknown, g: GlobalOptions, io: Io): number {
  if (!(e instanceof PktmarkError)) {
    const msg = e instanceof Error ? e.message : String(e);
    io.err(g.json ? JSON.stringify({ error: { code: 'INTERNAL', message: msg, exitCode: EXIT_RULE } }) : `pktmark: INTERNAL: ${safeField(msg.split('\n')[0]!)}`);
    if (process.env.PKTMARK_DEBUG && e instanceof Error) io.err(e.stack ?? '');
    return EXIT_RULE;
  }
  let err = e;
  if ((e.code === 'EPERM' || isPermissionErrno(e.errno)) && !(e.hint ?? '').includes('CAP_NET_ADMIN')) {
    err = new PktmarkError('EPERM', e.message, { ...e.toJSON(), hint: NEEDS_ROOT });
  }
  const code = exitCodeOf(e);
  // an error is one line, whatever the user's words or the kernel's ext-ack text held
  io.err(g.json ? JSON.stringify({ error: { ...err.toJSON(), exitCode: code } }) : `pktmark: ${safeField(err.toLine())}`);
  return code;
}

/** `inject`: fake kernels (pktmark/testing), so the fronts' logic is tested without root. */
export async function main(argv: readonly string[], rawIo: Io = processIo, inject?: CliInjection): Promise<number> {
  const g: GlobalOptions = { ...newGlobalOptions(), ...(inject ? { inject } : {}) };
  const io = terminalIo(rawIo, () => (g.json ? 'json' : 'text'));
  try {
    const w = new Words(argv);
    while (takeGlobal(w, g)) { /* consumed */ }
    const cmd = w.done ? '--help' : w.take();
    if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
      const { helpText, hasHelpText } = await import('./help.js');
      const topic = cmd === 'help' && !w.done ? w.take() : 'main';
      // commands that keep their help with their options (apply, agent, verify, …) print it themselves
      if (!hasHelpText(topic) && Object.hasOwn(COMMANDS, topic)) return await (await COMMANDS[topic]())(['--help'], w.pos, g, io);
      if (topic !== 'main' && !hasHelpText(topic)) {
        throw new UsageError('UNSUPPORTED', `no help topic '${topic}'`, { field: topic, hint: 'see pktmark --help for the commands' });
      }
      // a command's help may list the backends; the main help loads none
      io.out(helpText(topic, topic === 'main' ? [] : (await import('../backends/index.js')).VIAS));
      return EXIT_OK;
    }
    if (cmd === '--version' || cmd === '-V' || cmd === 'version') { io.out(`pktmark ${await version()}`); return EXIT_OK; }
    const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
    if (!load) {
      throw new UsageError(cmd.startsWith('-') ? 'INVALID_OPTION' : 'UNSUPPORTED',
        cmd.startsWith('-') ? `unknown global option '${cmd}' at position ${w.lastPos}` : `unknown command '${cmd}' at position ${w.lastPos}`,
        { field: cmd, hint: 'see pktmark --help' });
    }
    const base = w.pos;
    return await (await load())(w.rest(), base, g, io);
  } catch (e) {
    return report(e, g, io);
  }
}
