/**
 * An nfnetlink batch under construction: BATCH_BEGIN, the messages, BATCH_END, written into one
 * buffer, with what each message was so a kernel error (which names a sequence number) maps back
 * to the caller's item and, through `R` (e.g. expression spans), to the field. Kept as flat
 * arrays of numbers and shared values: a 10,000-rule batch then allocates no object per message,
 * and the `Sent` records errors need are made only when asked for.
 */
import { AttributeWriter, WriterPool } from '../netlink/attributes.js';
import { writeBatchBegin, writeBatchEnd } from '../netlink/batch.js';

export type SentKind = 'begin' | 'table' | 'chain' | 'rule' | 'set' | 'element' | 'end' | 'delete';

/** What one message of a batch was. */
export interface Sent<R> {
  readonly seq: number;
  readonly what: SentKind;
  /** the caller's item (e.g. rule index) the message carried */
  readonly item?: number;
  /** what the encoder reported about the message (e.g. where each expression starts) */
  readonly written?: R;
}

export class Batch<R = unknown> {
  readonly bytes: Uint8Array;
  constructor(
    /** the writer that holds the bytes (a WriterPool takes its buffer back after sending) */
    readonly writer: AttributeWriter,
    /** seq of the message that carries NLM_F_ACK */
    readonly ackSeq: number,
    private readonly seqs: readonly number[],
    private readonly whats: readonly SentKind[],
    private readonly items: readonly number[],
    private readonly written: readonly (R | undefined)[],
    private readonly edges: readonly number[],
  ) { this.bytes = writer.finish(); }

  get length(): number { return this.seqs.length; }
  /** message boundaries in `bytes` */
  get bounds(): (readonly [number, number])[] { return this.seqs.map((_, i) => [this.edges[i], this.edges[i + 1]] as const); }
  sentAt(i: number): Sent<R> {
    const w = this.written[i];
    return { seq: this.seqs[i], what: this.whats[i], ...(this.items[i] >= 0 ? { item: this.items[i] } : {}), ...(w !== undefined ? { written: w } : {}) };
  }
  get sent(): Sent<R>[] { return this.seqs.map((_, i) => this.sentAt(i)); }
  indexOfSeq(seq: number): number { return this.seqs.indexOf(seq); }
  /** seqs of the messages of one kind, in send order */
  seqsOf(what: SentKind): number[] { return this.seqs.filter((_, i) => this.whats[i] === what); }
  /** which caller item each message of one kind carried, in send order */
  itemsOf(what: SentKind): number[] { return this.items.filter((_, i) => this.whats[i] === what); }
  messages(): Uint8Array[] { return this.seqs.map((_, i) => this.bytes.subarray(this.edges[i], this.edges[i + 1])); }
}

/** Writes BATCH_BEGIN on creation; `finish(ackSeq)` writes BATCH_END. */
export class BatchWriter<R = unknown> {
  readonly w: AttributeWriter;
  private readonly seqs: number[];
  private readonly whats: SentKind[];
  private readonly items: number[];
  private readonly written: (R | undefined)[];
  private readonly edges: number[];
  private n = 0;
  /**
   * `genid`: the ruleset generation the batch assumes (NFNL_BATCH_GENID); the kernel refuses it with ERESTART if another commit came first.
   * `messages`: how many messages the caller expects (BEGIN and END aside), so the records are
   * sized once: five arrays grown by push through 200,000 rules copied ~3× their final size.
   */
  constructor(size: number, private readonly nextSeq: () => number, pool?: WriterPool, genid?: number, messages = 0) {
    this.w = pool ? pool.take(size) : new AttributeWriter(size);
    const cap = messages > 0 ? messages + 2 : 0;
    this.seqs = new Array<number>(cap);
    this.whats = new Array<SentKind>(cap);
    this.items = new Array<number>(cap);
    this.written = new Array<R | undefined>(cap);
    this.edges = new Array<number>(cap + 1);
    this.edges[0] = 0;
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
    this.seqs[n] = seq;
    this.whats[n] = what;
    this.items[n] = item;
    this.written[n] = written;
    this.edges[n + 1] = this.w.length;
  }
  finish(ackSeq: number): Batch<R> {
    this.add('end', undefined, (w, seq) => writeBatchEnd(w, seq));
    // a caller that expected more messages than it wrote leaves no holes behind
    const n = this.n;
    this.seqs.length = n; this.whats.length = n; this.items.length = n; this.written.length = n; this.edges.length = n + 1;
    return new Batch(this.w, ackSeq, this.seqs, this.whats, this.items, this.written, this.edges);
  }
}
