/**
 * getopt_long as iptables uses it (xtables.c: the optstring "-:A:C:D:…" and the merged long
 * options of the loaded extensions): `--opt=value`, `--opt value`, a unique prefix of a long
 * option (`--sou` for --source; exact names win), glued short options with their value
 * (`-ptcp`, `-s1.2.3.4`), stacked flags (`-nv`), and `!` as a word of its own. The option table
 * is passed to each call, because iptables' grows as `-p`/`-m`/`-j` load extensions; it is an
 * OptTable, indexed once, because a restore file walks the same few tables 10,000s of times.
 */
import { UsageError } from '../errors.js';
import type { Words } from '../words.js';

export type ArgKind = 'none' | 'required' | 'optional';
export interface OptSpec {
  /** the long name without `--`; extension options are known by it */
  readonly long: string;
  readonly short?: string;
  readonly arg: ArgKind;
  /** the key the caller dispatches on (several long names may share one: --src, --source) */
  readonly key: string;
}

/**
 * An option table with its names indexed. Where two rows share a name the first wins, as
 * `find` over the rows did (and glibc's scan of struct option does).
 */
export class OptTable {
  private readonly byLong = new Map<string, OptSpec>();
  private readonly byShort = new Map<string, OptSpec>();
  constructor(readonly specs: readonly OptSpec[]) {
    for (const s of specs) {
      if (!this.byLong.has(s.long)) this.byLong.set(s.long, s);
      if (s.short !== undefined && !this.byShort.has(s.short)) this.byShort.set(s.short, s);
    }
  }
  long(name: string): OptSpec | undefined { return this.byLong.get(name); }
  short(c: string): OptSpec | undefined { return this.byShort.get(c); }
}

export type Token =
  | { readonly kind: 'opt'; readonly spec: OptSpec; readonly value?: string; readonly word: string; readonly pos: number; readonly valuePos?: number }
  | { readonly kind: 'bang'; readonly pos: number }
  | { readonly kind: 'word'; readonly word: string; readonly pos: number };

export class Getopt {
  /** the rest of a short-option cluster (`-nv` after `n`), with its word's position */
  private cluster: { rest: string; pos: number; word: string } | undefined;
  constructor(readonly w: Words) {}

  get done(): boolean { return this.cluster === undefined && this.w.done; }

  /** The next non-option word, when the caller takes optional operands (a chain after -L, a rule number). */
  operand(): string | undefined {
    if (this.cluster) return undefined;
    const n = this.w.peek();
    if (n === undefined || (n.startsWith('-') && n !== '-') || n === '!') return undefined;
    this.w.take();
    return n;
  }

  next(table: OptTable): Token {
    if (this.cluster) return this.shortOpt(table, this.cluster.rest, this.cluster.pos, this.cluster.word);
    const word = this.w.take();
    const pos = this.w.lastPos;
    if (word === '!') return { kind: 'bang', pos };
    if (word.startsWith('--') && word.length > 2) return this.longOpt(table, word, pos);
    if (word.startsWith('-') && word.length > 1) return this.shortOpt(table, word.slice(1), pos, word);
    return { kind: 'word', word, pos };
  }

  private longOpt(table: OptTable, word: string, pos: number): Token {
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const spec = table.long(name) ?? abbreviated(table, name, word, pos);
    if (eq >= 0) {
      if (spec.arg === 'none') throw new UsageError('INVALID_OPTION', `option '--${spec.long}' at position ${pos} takes no value`, { field: word });
      return { kind: 'opt', spec, value: word.slice(eq + 1), word: `--${spec.long}`, pos, valuePos: pos };
    }
    if (spec.arg === 'required') {
      if (this.w.done) throw new UsageError('INVALID_OPTION', `--${spec.long} at position ${pos} needs a value`, { field: `--${spec.long}` });
      return { kind: 'opt', spec, value: this.w.take(), word: `--${spec.long}`, pos, valuePos: pos + 1 };
    }
    return { kind: 'opt', spec, word: `--${spec.long}`, pos };
  }

  private shortOpt(table: OptTable, chars: string, pos: number, word: string): Token {
    this.cluster = undefined;
    const c = chars[0];
    const spec = table.short(c);
    if (!spec) throw new UsageError('UNSUPPORTED', `unsupported word '${word}' at position ${pos}`, { field: word, ...(word !== `-${c}` ? { hint: `unknown option -${c}` } : {}) });
    const rest = chars.slice(1);
    if (spec.arg === 'none') {
      if (rest) this.cluster = { rest, pos, word };
      return { kind: 'opt', spec, word: `-${c}`, pos };
    }
    if (rest) return { kind: 'opt', spec, value: rest, word: `-${c}`, pos, valuePos: pos };
    if (spec.arg === 'required') {
      if (this.w.done) throw new UsageError('INVALID_OPTION', `-${c} at position ${pos} needs a value`, { field: `-${c}` });
      return { kind: 'opt', spec, value: this.w.take(), word: `-${c}`, pos, valuePos: pos + 1 };
    }
    return { kind: 'opt', spec, word: `-${c}`, pos };
  }
}

/** The one option `--name` abbreviates (no exact name matched), or the error getopt gives. */
function abbreviated(table: OptTable, name: string, word: string, pos: number): OptSpec {
  const cands = table.specs.filter((s) => s.long.startsWith(name));
  if (cands.length === 0) throw new UsageError('UNSUPPORTED', `unsupported word '${word}' at position ${pos}`, { field: word });
  // glibc: an abbreviation is ambiguous only when its candidates are different options
  if (cands.some((s) => s.key !== cands[0].key)) {
    throw new UsageError('INVALID_OPTION', `option '--${name}' at position ${pos} is ambiguous (${cands.map((s) => `--${s.long}`).join(', ')})`, { field: word });
  }
  return cands[0];
}

/** Long names of an extension's options as table rows (all take a value unless listed as flags). */
export function extOptions(names: readonly string[], flags: readonly string[] = []): OptSpec[] {
  return names.map((n) => ({ long: n.replace(/^--/, ''), arg: flags.includes(n) ? 'none' : 'required', key: n } as const));
}
