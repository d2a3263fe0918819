/**
 * A cursor over command-line words, in the style of iproute2's NEXT_ARG()/argc-argv walking:
 * each small parser consumes the words it understands and leaves the rest. Positions are
 * 1-based and counted from the first word after the program (or front) name, so an error can
 * say exactly which word it is about: "unsupported word 'conntrack' at position 6".
 */
import { UsageError } from './errors.js';

export class Words {
  private i = 0;
  constructor(readonly words: readonly string[], private readonly base = 1) {}

  get done(): boolean { return this.i >= this.words.length; }
  /** 1-based position of the next word */
  get pos(): number { return this.i + this.base; }
  peek(ahead = 0): string | undefined { return this.words[this.i + ahead]; }
  /** the position of the word just consumed */
  get lastPos(): number { return this.i - 1 + this.base; }
  get last(): string | undefined { return this.words[this.i - 1]; }

  /** Consume and return the next word. */
  take(): string { return this.words[this.i++]; }

  /** The value of option `opt` (just consumed), or a usage error naming the option. */
  value(opt: string, what: string): string {
    if (this.done) throw new UsageError('INVALID_OPTION', `${opt} at position ${this.lastPos} needs ${what}`, { field: opt });
    return this.take();
  }

  /** Consume `word` if it is next. */
  accept(word: string): boolean {
    if (this.peek() === word) { this.i++; return true; }
    return false;
  }

  rest(): string[] { const r = this.words.slice(this.i); this.i = this.words.length; return r; }

  /** The error for the word at `pos` (default: the one just consumed). */
  unsupported(word = this.last ?? '', pos = this.lastPos, hint?: string): UsageError {
    return new UsageError('UNSUPPORTED', `unsupported word '${word}' at position ${pos}`, { field: word, ...(hint ? { hint } : {}) });
  }
}
