/**
 * `pktmark set add ID ADDR…|@FILE` and `pktmark set del ID ADDR…|@FILE`: change a list rule's
 * addresses in place (Marker.update; only the changed set elements are sent, one batch), and
 * the `@FILE` reader that `add --src @FILE` shares: one address, prefix or range per line,
 * `#` starts a comment, blank lines are skipped; a bad line is named FILE:LINE.
 */
import { readFileSync } from 'node:fs';
import { parseAddressEntry } from '../../../codecs/nftables/set-intervals.js';
import { PktmarkError } from '../../errors.js';
import { withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions, str } from '../options.js';

/** The entries of an address file (`-` is standard input), each checked, errors naming FILE:LINE. */
export function readAddressFile(path: string, option: string): string[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    throw new UsageError('INVALID_OPTION', `${option} @${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { field: option });
  }
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `${path}:${i + 1}`;
    try {
      parseAddressEntry(line, where);
    } catch (e) {
      if (e instanceof PktmarkError) throw new PktmarkError(e.code, `${where}: ${e.message}`, { field: where });
      throw e;
    }
    out.push(line);
  });
  if (out.length === 0) throw new PktmarkError('INVALID_CIDR', `${option} @${path}: the file holds no address`, { field: option, hint: 'one address or prefix per line; # starts a comment' });
  return out;
}

/** `ADDR…` words, each `@FILE` replaced by the file's entries. */
export function addressWords(words: readonly string[], option: string): string[] {
  return words.flatMap((w) => (w.startsWith('@') ? readAddressFile(w.slice(1), option) : [w]));
}

const SPEC = { '--field': { value: 'src or dst' } } as const;

export async function setCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('set', argv, base, SPEC, g, { max: Infinity, what: 'add|del ID ADDR…' });
  if (p.help) { io.out(helpText('set')); return EXIT_OK; }
  noDryRun('set', g);
  const [verb, id, ...rest] = p.positional;
  if (verb !== 'add' && verb !== 'del') {
    throw new UsageError('INVALID_OPTION', verb === undefined ? 'set needs add or del' : `set ${JSON.stringify(verb)}: use set add or set del`, { field: 'set', hint: 'pktmark set add ID ADDR…|@FILE' });
  }
  if (id === undefined) throw new UsageError('INVALID_OPTION', `set ${verb} needs a rule ID (see pktmark list)`, { field: 'id' });
  if (rest.length === 0) throw new UsageError('INVALID_OPTION', `set ${verb} ${id} needs at least one address or @FILE`, { field: 'address' });
  const field = str(p, '--field');
  if (field !== undefined && field !== 'src' && field !== 'dst') throw new UsageError('INVALID_OPTION', `--field ${JSON.stringify(field)} is not src or dst`, { field: '--field' });
  const entries = addressWords(rest, verb);
  const r = await withMarker(g, (m) => m.update(id, { [verb === 'add' ? 'add' : 'remove']: entries, ...(field ? { field } : {}) }));
  if (g.json) io.out(JSON.stringify(r));
  else io.out(`updated ${r.id}: ${r.deleted} set elements deleted, ${r.added} added`);
  return EXIT_OK;
}
