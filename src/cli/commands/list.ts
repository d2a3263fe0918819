/** `pktmark list`, `pktmark del ID…`, `pktmark clear`: rules pktmark owns in the namespace. */
import { VIAS, isVia, viaWords, type Via } from '../../backends/index.js';
import { withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions, str, type Parsed } from '../options.js';
import { JSON_VERSION, ruleJson, streamRuleTable } from '../output.js';

const VIA = { '--via': { value: viaWords() } } as const;

function via(p: Parsed): Via | undefined {
  const v = str(p, '--via');
  if (v === undefined || isVia(v)) return v;
  throw new UsageError('INVALID_OPTION', `--via ${JSON.stringify(v)} is not ${viaWords()}`, { field: '--via' });
}

export async function listCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('list', argv, base, VIA, g);
  if (p.help) { io.out(helpText('list', VIAS)); return EXIT_OK; }
  noDryRun('list', g);
  const v = via(p);
  // Rows are printed as the kernel's dump is read: a 100,000-rule table never sits in memory.
  await withMarker(g, async (m) => {
    const records = m.rules(v ? { via: v } : {});
    if (!g.json) { await streamRuleTable(records, (l) => io.out(l)); return; }
    // the same document as JSON.stringify(rulesJson([...])), one rule per line
    let first = true;
    for await (const rec of records) {
      io.out(`${first ? `{"version":${JSON_VERSION},"rules":[` : ','}${JSON.stringify(ruleJson(rec))}`);
      first = false;
    }
    io.out(first ? `{"version":${JSON_VERSION},"rules":[]}` : ']}');
  });
  return EXIT_OK;
}

export async function delCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('del', argv, base, {}, g, { max: Infinity, what: 'ID' });
  if (p.help) { io.out(helpText('del')); return EXIT_OK; }
  noDryRun('del', g);
  if (p.positional.length === 0) throw new UsageError('INVALID_OPTION', 'del needs at least one rule ID (see pktmark list)', { field: 'id' });
  await withMarker(g, (m) => m.delete(p.positional));
  if (g.json) io.out(JSON.stringify({ deleted: p.positional }));
  else for (const id of p.positional) io.out(`deleted ${id}`);
  return EXIT_OK;
}

export async function clearCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('clear', argv, base, VIA, g);
  if (p.help) { io.out(helpText('clear', VIAS)); return EXIT_OK; }
  noDryRun('clear', g);
  const v = via(p);
  await withMarker(g, (m) => m.clear(v ? { via: v } : {}));
  if (g.json) io.out(JSON.stringify({ cleared: v ? [v] : VIAS }));
  else io.out(`cleared ${v ?? 'all'} rules pktmark owns`);
  return EXIT_OK;
}
