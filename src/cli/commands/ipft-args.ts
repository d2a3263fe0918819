/** `pktmark ipft-args ID|V[/M]`: the `ipft -m … --mask …` arguments that trace a rule's packets. */
import { ipftArgs } from '../../ipft.js';
import { findRule, looksLikeId } from '../../verify/find.js';
import { withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { noDryRun, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { parseOptions } from '../options.js';

export async function ipftArgsCommand(argv: readonly string[], base: number, g: GlobalOptions, io: Io): Promise<number> {
  const p = parseOptions('ipft-args', argv, base, {}, g, { max: 1, what: 'ID|V[/M]' });
  if (p.help) { io.out(helpText('ipft-args')); return EXIT_OK; }
  const word = p.positional[0];
  if (word === undefined) throw new UsageError('INVALID_OPTION', 'ipft-args needs a rule ID or a mark V[/M]', { field: 'id', hint: 'e.g. pktmark ipft-args nft:prerouting:3' });
  let args;
  if (looksLikeId(word)) {
    noDryRun('ipft-args ID', g);
    const rec = await withMarker(g, (m) => findRule(m, word));
    args = ipftArgs(rec.rule);
  } else {
    args = ipftArgs(word);
  }
  if (g.json) io.out(JSON.stringify({ mark: `0x${args.mark.toString(16)}`, mask: `0x${args.mask.toString(16)}`, args: args.argv }));
  else io.out(args.argv.join(' '));
  return EXIT_OK;
}
