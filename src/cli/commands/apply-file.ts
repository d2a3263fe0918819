/**
 * `pktmark apply -f FILE [--plan] [--prune=true|false|all]`: make pktmark's table hold exactly
 * the file's rules (src/apply/). `--plan` prints what would change, like `kubectl diff`, and
 * sends nothing (it reads, so it needs the privileges of a dump); the global `--dry-run` keeps
 * its meaning: the bytes against an empty kernel, without privileges.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ApplyResult, PlanStep, Prune } from '../../apply/index.js';
import { ifindexResolver, withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import type { GlobalOptions } from '../global.js';
import type { Io } from '../io.js';
import { parseOptions, str, type Parsed } from '../options.js';
import { hex } from '../output.js';

export const APPLY_HELP = `pktmark apply -f FILE [--plan] [--prune=true|false|all]

Make the kernel hold exactly the rules of FILE (YAML or JSON: a rules: list of add's fields,
each optionally with a name). nft rules go in pktmark's table, in order, in one atomic batch:
unchanged rules keep their handles and counters, a named rule whose content changed is replaced
in place. tc, bpf and xdp rules (via:) are added before that batch and the ones no longer wanted
deleted after it; a failure anywhere removes what was added. cgroup rules are add's only.
  -f, --file FILE   the desired state
  --plan            print what would be added, removed, replaced, moved and kept; send nothing
  --prune=true      remove rules apply made that FILE no longer lists (default)
  --prune=false     only add
  --prune=all       also remove every other rule in pktmark's table (add's, a restore's)
  --strict          refuse (MARK_CONFLICT) when a rule's mark overlaps bits a live user relies on;
                    without it apply warns on stderr (pktmark conflicts shows who)
A named rule may say mark: auto[/MASK]: a free bit is picked once by a live scan and kept by later
applies (it is read back from the rule in the table).
Global --dry-run prints the batch against an empty kernel (--hex: its messages).`;

export async function readDesiredFile(p: Parsed): Promise<{ text: string; name: string; path: string }> {
  const path = str(p, '-f') ?? str(p, '--file');
  if (path === undefined) throw new UsageError('INVALID_OPTION', 'give the desired-state file with -f FILE', { field: '-f' });
  if (str(p, '-f') !== undefined && str(p, '--file') !== undefined) throw new UsageError('INVALID_OPTION', 'give -f or --file, not both', { field: '-f' });
  try {
    return { text: path === '-' ? await readStdin() : await readFile(path, 'utf8'), name: path === '-' ? 'stdin' : basename(path), path };
  } catch (e) {
    throw new UsageError('INVALID_ARGUMENT', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: '-f' });
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function parsePrune(v: string | true | undefined): Prune {
  if (v === undefined || v === true || v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'all') return 'all';
  throw new UsageError('INVALID_OPTION', `--prune ${JSON.stringify(v)} is not true, false or all`, { field: '--prune' });
}

const SIGN: Readonly<Record<PlanStep['action'], string>> = { add: '+', remove: '-', replace: '~', move: '>', keep: ' ' };

function printResult(r: ApplyResult, g: GlobalOptions, io: Io, planned: boolean, messages?: Uint8Array[]): void {
  if (g.json) {
    io.out(JSON.stringify({ ...(planned ? { plan: true } : {}), ...r, ...(messages ? { messages: messages.map(hex) } : {}) }));
    return;
  }
  if (messages) { for (const m of messages) io.out(hex(m)); return; }
  if (planned) {
    for (const s of r.steps) {
      if (s.action === 'keep') continue;
      const who = [s.id, s.name !== undefined ? `name ${JSON.stringify(s.name)}` : undefined, s.line !== undefined ? `line ${s.line}` : undefined].filter(Boolean).join(', ');
      io.out(`${SIGN[s.action]} ${s.action.padEnd(7)} ${s.text}${who ? `  # ${who}` : ''}${s.reason ? ` (${s.reason}${s.action === 'move' ? ': deleted and re-inserted, counter carried over' : ''})` : ''}`);
    }
  }
  const moved = r.moved ? `, ${r.moved} moved` : '';
  const replaced = r.replaced ? `, ${r.replaced} replaced` : '';
  io.out(`${planned ? 'plan: ' : ''}${r.added} added, ${r.removed} removed${replaced}${moved}, ${r.kept} kept`);
}

export async function applyFileCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('apply', argv, base, { '-f': { value: 'FILE' }, '--file': { value: 'FILE' }, '--plan': {}, '--prune': { value: 'true|false|all' }, '--strict': {} }, g);
  if (p.help) { io.out(APPLY_HELP); return EXIT_OK; }
  const prune = parsePrune(p.options.get('--prune'));
  const { text, name } = await readDesiredFile(p);
  const { parseDesired, dryRunApply } = await import('../../apply/index.js');
  const desired = parseDesired(text, name); // every rule checked before anything is opened
  if (g.dryRun) {
    const { result, messages } = dryRunApply(desired, g.table ?? 'pktmark', { ifindex: ifindexResolver(g) });
    printResult(result, g, io, true, g.hex ? messages : undefined);
    return EXIT_OK;
  }
  const planned = p.options.has('--plan');
  const r = await withMarker(g, async (m) => {
    // like add: warn (stderr) about rules whose bits a live user other than pktmark relies on
    const { liveOverlaps, describeUser, conflictError } = await import('../../conflicts/auto.js');
    const users = (await m.conflicts({ skipOwn: true })).users;
    for (const d of desired.rules) {
      if (d.autoMask !== undefined) continue;
      const hits = liveOverlaps(users, d.rule.mark, d.rule.mask);
      if (hits.length && p.options.has('--strict')) throw conflictError(hits, d.rule.mark, d.rule.mask, `rules[${d.index}].mark`);
      for (const u of hits) io.err(`pktmark: warning: rule ${d.name ?? d.index}: mark 0x${d.rule.mark.toString(16)}/0x${d.rule.mask.toString(16)} overlaps a live user: ${describeUser(u)}`);
    }
    const res = await m.apply(desired, { prune, ...(planned ? { plan: true } : {}) });
    for (const a of res.autoMarks ?? []) io.err(`pktmark: rule ${a.name}: auto mark 0x${a.mark.toString(16)}/0x${a.mask.toString(16)} ${a.how}: ${a.why}`);
    if (res.autoMarks?.some((a) => /registry names/.test(a.why))) io.err(`pktmark: ${(await import('../../registry/index.js')).REGISTRY_ATTRIBUTION}`);
    return res;
  });
  printResult(r, g, io, planned);
  return EXIT_OK;
}
