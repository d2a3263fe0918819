/**
 * Option parsing for the native commands: `--name VALUE` or `--name=VALUE`, global options
 * allowed anywhere, unknown words refused with their position.
 */
import { UsageError } from './errors.js';
import { checkGlobal, takeGlobal, type GlobalOptions } from './global.js';
import { Words } from './words.js';

export interface OptionSpec {
  /** takes a value (described by this text) or is a flag */
  readonly value?: string;
}

export interface Parsed {
  readonly options: Map<string, string | true>;
  readonly positional: string[];
  readonly help: boolean;
}

/**
 * `base` is the position of argv[0] among the words after `pktmark`, so positions in errors
 * count from there.
 */
export function parseOptions(cmd: string, argv: readonly string[], base: number, spec: Readonly<Record<string, OptionSpec>>,
  g: GlobalOptions, positional: { max: number; what: string } = { max: 0, what: '' }): Parsed {
  const w = new Words(argv, base);
  const options = new Map<string, string | true>();
  const pos: string[] = [];
  let help = false;
  while (!w.done) {
    if (takeGlobal(w, g)) continue;
    const word = w.take();
    if (word === '--help' || word === '-h') { help = true; continue; }
    if (word.startsWith('-') && word !== '-' && !/^-\d/.test(word)) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word : word.slice(0, eq);
      const s = spec[name];
      if (!s) throw new UsageError('INVALID_OPTION', `unknown option '${name}' at position ${w.lastPos} for ${cmd}`, { field: name, hint: `see pktmark ${cmd} --help` });
      if (options.has(name)) throw new UsageError('INVALID_OPTION', `option '${name}' at position ${w.lastPos} is given twice`, { field: name });
      if (s.value === undefined) {
        if (eq >= 0) throw new UsageError('INVALID_OPTION', `option '${name}' at position ${w.lastPos} takes no value`, { field: name });
        options.set(name, true);
      } else {
        options.set(name, eq >= 0 ? word.slice(eq + 1) : w.value(name, s.value));
      }
      continue;
    }
    if (pos.length >= positional.max) throw w.unsupported(word, w.lastPos, positional.max ? undefined : `${cmd} takes options only; see pktmark ${cmd} --help`);
    pos.push(word);
  }
  if (!help) checkGlobal(g);
  return { options, positional: pos, help };
}

export const str = (p: Parsed, name: string): string | undefined => {
  const v = p.options.get(name);
  return typeof v === 'string' ? v : undefined;
};
