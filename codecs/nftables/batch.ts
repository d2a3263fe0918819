/**
 * An nfnetlink batch under construction: BATCH_BEGIN, the messages, BATCH_END, written into one
 * buffer, with what each message was so a kernel error (which names a sequence number) maps back
 * to the caller's item and, through `R` (e.g. expression spans), to the field. Kept in typed
 * arrays (a kind code, a seq, an item, an offset and an index into the distinct `R`s per
 * message): a 10,000-rule batch then allocates no object per message, and nothing per message
 * lives on the JS heap, where the scavenger copied five arrays of 10,000 slots through every
 * add (the batch outlives the exchange). The `Sent` records errors need are made only when asked for.
 */
import { AttributeWriter, WriterPool } from '../netlink/attributes.js';
import { writeBatchBegin, writeBatchEnd } from '../netlink/batch.js';

export type SentKind = 'begin' | 'table' | 'chain' | 'rule' | 'set' | 'element' | 'end' | 'delete';
const KINDS: readonly SentKind[] = ['begin', 'table', 'chain', 'rule', 'set', 'element', 'end', 'delete'];
const KIND_CODE: Readonly<Record<SentKind, number>> = { begin: 0, table: 1, chain: 2, rule: 3, set: 4, element: 5, end: 6, delete: 7 };

/** What one message of a batch was. */
export interface Sent<R> {
  readonly seq: number;
  readonly what: SentKind;
  /** the caller's item (e.g. rule index) the message carried */
  readonly item?: number;
  /** what the encoder reported about the message (e.g. where each expression starts) */
  readonly written?: R;
}

/** The per-message records, column by column; `written` indexes `values` (-1: none). */
interface Columns<R> {
  readonly kinds: Uint8Array;
  readonly seqs: Uint32Array;
  readonly items: Int32Array;
  readonly written: Int32Array;
  /** n + 1 offsets: message i is bytes [edges[i], edges[i + 1]) */
  readonly edges: Uint32Array;
  readonly values: readonly R[];
}

export class Batch<R = unknown> {
  readonly bytes: Uint8Array;
  constructor(
    /** the writer that holds the bytes (a WriterPool takes its buffer back after sending) */
    readonly writer: AttributeWriter,
    /** seq of the message that carries NLM_F_ACK */
    readonly ackSeq: number,
    private readonly n: number,
    private readonly c: Columns<R>,
  ) { this.bytes = writer.finish(); }

  get length(): number { return this.n; }
  /** message boundaries in `bytes` */
  get bounds(): (readonly [number, number])[] {
    const out: (readonly [number, number])[] = new Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = [this.c.edges[i], this.c.edges[i + 1]] as const;
    return out;
  }
  whatAt(i: number): SentKind { return KINDS[this.c.kinds[i]]; }
  seqAt(i: number): number { return this.c.seqs[i]; }
  /** the caller's item of message i, or -1 */
  itemAt(i: number): number { return this.c.items[i]; }
  sentAt(i: number): Sent<R> {
    const wi = this.c.written[i];
    const item = this.c.items[i];
    return { seq: this.c.seqs[i], what: KINDS[this.c.kinds[i]], ...(item >= 0 ? { item } : {}), ...(wi >= 0 ? { written: this.c.values[wi] } : {}) };
  }
  get sent(): Sent<R>[] {
    const out: Sent<R>[] = new Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.sentAt(i);
    return out;
  }
  indexOfSeq(seq: number): number {
    const s = this.c.seqs;
    for (let i = 0; i < this.n; i++) if (s[i] === seq) return i;
    return -1;
  }
  /** how many messages of one kind */
  countOf(what: SentKind): number {
    const code = KIND_CODE[what], k = this.c.kinds;
    let n = 0;
    for (let i = 0; i < this.n; i++) if (k[i] === code) n++;
    return n;
  }
  /** seqs of the messages of one kind, in send order */
  seqsOf(what: SentKind): number[] {
    const code = KIND_CODE[what], k = this.c.kinds, out: number[] = [];
    for (let i = 0; i < this.n; i++) if (k[i] === code) out.push(this.c.seqs[i]);
    return out;
  }
  /** which caller item each message of one kind carried, in send order */
  itemsOf(what: SentKind): number[] {
    const code = KIND_CODE[what], k = this.c.kinds, out: number[] = [];
    for (let i = 0; i < this.n; i++) if (k[i] === code) out.push(this.c.items[i]);
    return out;
  }
  /**
   * One view per message. `new Uint8Array(buffer, offset, length)` rather than `subarray`: the
   * same view without subarray's species lookup, for the 200,000 of a bulk encode().
   */
  messages(): Uint8Array[] {
    const out: Uint8Array[] = new Array(this.n);
    const buf = this.bytes.buffer, base = this.bytes.byteOffset, e = this.c.edges;
    for (let i = 0; i < this.n; i++) out[i] = new Uint8Array(buf, base + e[i], e[i + 1] - e[i]);
    return out;
  }
}

/** Writes BATCH_BEGIN on creation; `finish(ackSeq)` writes BATCH_END. */
export class BatchWriter<R = unknown> {
  readonly w: AttributeWriter;
  private kinds: Uint8Array;
  private seqs: Uint32Array;
  private items: Int32Array;
  private written: Int32Array;
  private edges: Uint32Array;
  private readonly values: R[] = [];
  private lastValue: R | undefined;
  private n = 0;
  /**
   * `genid`: the ruleset generation the batch assumes (NFNL_BATCH_GENID); the kernel refuses it with ERESTART if another commit came first.
   * `messages`: how many messages the caller expects (BEGIN and END aside), so the records are
   * sized once (they grow by doubling past it).
   */
  constructor(size: number, private readonly nextSeq: () => number, pool?: WriterPool, genid?: number, messages = 0) {
    this.w = pool ? pool.take(size) : new AttributeWriter(size);
    const cap = Math.max(messages, 14) + 2;
    this.kinds = new Uint8Array(cap);
    this.seqs = new Uint32Array(cap);
    this.items = new Int32Array(cap);
    this.written = new Int32Array(cap);
    this.edges = new Uint32Array(cap + 1);
    this.add('begin', undefined, (w, seq) => writeBatchBegin(w, seq, genid));
  }
  /** One message; `write` may return what the caller wants kept about it (see Sent.written). */
  add(what: SentKind, item: number | undefined, write: (w: AttributeWriter, seq: number) => R | void): number {
    const seq = this.nextSeq();
    const r = write(this.w, seq);
    this.record(what, item ?? -1, seq, r === undefined ? undefined : r as R);
    return seq;
  }

  /**
   * `add` for a hot loop (a NEWRULE per rule of a 10,000-rule add), without a closure per
   * message: take the seq, write the message to `w` yourself, then `record` it (item -1: none).
   */
  seq(): number { return this.nextSeq(); }
  record(what: SentKind, item: number, seq: number, written: R | undefined): void {
    const n = this.n++;
    if (n + 1 >= this.kinds.length) this.grow();
    this.kinds[n] = KIND_CODE[what];
    this.seqs[n] = seq;
    this.items[n] = item;
    // templated rules share one R: a run of them stores its index, not a copy per message
    if (written === undefined) this.written[n] = -1;
    else {
      if (written !== this.lastValue || this.values.length === 0) { this.values.push(written); this.lastValue = written; }
      this.written[n] = this.values.length - 1;
    }
    this.edges[n + 1] = this.w.length;
  }
  finish(ackSeq: number): Batch<R> {
    this.add('end', undefined, (w, seq) => writeBatchEnd(w, seq));
    return new Batch(this.w, ackSeq, this.n, { kinds: this.kinds, seqs: this.seqs, items: this.items, written: this.written, edges: this.edges, values: this.values });
  }

  private grow(): void {
    const cap = this.kinds.length * 2;
    const more = <T extends Uint8Array | Uint32Array | Int32Array>(a: T, make: (n: number) => T, extra = 0): T => { const b = make(cap + extra); b.set(a); return b; };
    this.kinds = more(this.kinds, (k) => new Uint8Array(k));
    this.seqs = more(this.seqs, (k) => new Uint32Array(k));
    this.items = more(this.items, (k) => new Int32Array(k));
    this.written = more(this.written, (k) => new Int32Array(k));
    this.edges = more(this.edges, (k) => new Uint32Array(k), 1);
  }
}
