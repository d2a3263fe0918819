/**
 * An nfnetlink batch under construction: BATCH_BEGIN, the messages, BATCH_END, written into one
 * buffer, with what each message was so a kernel error (which names a sequence number) maps back
 * to the caller's item and, through `R` (e.g. expression spans), to the field. Kept as typed
 * arrays and shared values: a 10,000-rule batch then allocates no object per message, and the
 * `Sent` records errors need are made only when asked for.
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

const KINDS: readonly SentKind[] = ['begin', 'table', 'chain', 'rule', 'set', 'element', 'end', 'delete'];
const KIND_CODE: Readonly<Record<SentKind, number>> = { begin: 0, table: 1, chain: 2, rule: 3, set: 4, element: 5, end: 6, delete: 7 };

/**
 * The per-message records, in typed arrays: their memory is outside the JS heap, so a bulk
 * add's 10,000 sequence numbers, items and offsets are not copied by every garbage collection
 * that runs while the batch is alive (they were five 80 KB arrays the scavenger moved).
 */
interface Records<R> {
  readonly seqs: Uint32Array;
  readonly whats: Uint8Array;
  /** -1: no item */
  readonly items: Int32Array;
  readonly written: (R | undefined)[];
  /** message i is bytes edges[i]..edges[i+1] */
  readonly edges: Uint32Array;
  readonly n: number;
}

export class Batch<R = unknown> {
  readonly bytes: Uint8Array;
  constructor(
    /** the writer that holds the bytes (a WriterPool takes its buffer back after sending) */
    readonly writer: AttributeWriter,
    /** seq of the message that carries NLM_F_ACK */
    readonly ackSeq: number,
    private readonly r: Records<R>,
  ) { this.bytes = writer.finish(); }

  get length(): number { return this.r.n; }
  /** message boundaries in `bytes` */
  get bounds(): (readonly [number, number])[] {
    const out: (readonly [number, number])[] = [];
    for (let i = 0; i < this.r.n; i++) out.push([this.r.edges[i], this.r.edges[i + 1]] as const);
    return out;
  }
  sentAt(i: number): Sent<R> {
    const { seqs, whats, items, written } = this.r;
    const w = written[i];
    return { seq: seqs[i], what: KINDS[whats[i]], ...(items[i] >= 0 ? { item: items[i] } : {}), ...(w !== undefined ? { written: w } : {}) };
  }
  get sent(): Sent<R>[] {
    const out: Sent<R>[] = [];
    for (let i = 0; i < this.r.n; i++) out.push(this.sentAt(i));
    return out;
  }
  indexOfSeq(seq: number): number {
    for (let i = 0; i < this.r.n; i++) if (this.r.seqs[i] === seq) return i;
    return -1;
  }
  /** seqs of the messages of one kind, in send order */
  seqsOf(what: SentKind): number[] { return this.pick(what, this.r.seqs); }
  /** which caller item each message of one kind carried, in send order */
  itemsOf(what: SentKind): number[] { return this.pick(what, this.r.items); }
  messages(): Uint8Array[] {
    const out = new Array<Uint8Array>(this.r.n);
    for (let i = 0; i < this.r.n; i++) out[i] = this.bytes.subarray(this.r.edges[i], this.r.edges[i + 1]);
    return out;
  }
  private pick(what: SentKind, from: Uint32Array | Int32Array): number[] {
    const code = KIND_CODE[what];
    let count = 0;
    for (let i = 0; i < this.r.n; i++) if (this.r.whats[i] === code) count++;
    const out = new Array<number>(count);
    for (let i = 0, k = 0; k < count; i++) if (this.r.whats[i] === code) out[k++] = from[i];
    return out;
  }
}

/** Writes BATCH_BEGIN on creation; `finish(ackSeq)` writes BATCH_END. */
export class BatchWriter<R = unknown> {
  readonly w: AttributeWriter;
  private seqs: Uint32Array;
  private whats: Uint8Array;
  private items: Int32Array;
  private readonly written: (R | undefined)[];
  private edges: Uint32Array;
  private n = 0;
  /**
   * `genid`: the ruleset generation the batch assumes (NFNL_BATCH_GENID); the kernel refuses it with ERESTART if another commit came first.
   * `messages`: how many messages the caller expects (BEGIN and END aside), so the records are
   * sized once instead of regrown through a 200,000-rule batch.
   */
  constructor(size: number, private readonly nextSeq: () => number, pool?: WriterPool, genid?: number, messages = 0) {
    this.w = pool ? pool.take(size) : new AttributeWriter(size);
    const cap = messages + 2;
    this.seqs = new Uint32Array(cap);
    this.whats = new Uint8Array(cap);
    this.items = new Int32Array(cap);
    this.written = new Array<R | undefined>(cap);
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
    if (n + 1 >= this.edges.length) this.grow();
    this.seqs[n] = seq;
    this.whats[n] = KIND_CODE[what];
    this.items[n] = item;
    this.written[n] = written;
    this.edges[n + 1] = this.w.length;
  }
  private grow(): void {
    const cap = this.edges.length * 2;
    const more = <T extends Uint32Array | Uint8Array | Int32Array>(a: T, make: new (n: number) => T): T => { const b = new make(cap); b.set(a); return b; };
    this.seqs = more(this.seqs, Uint32Array);
    this.whats = more(this.whats, Uint8Array);
    this.items = more(this.items, Int32Array);
    this.edges = more(this.edges, Uint32Array);
  }
  finish(ackSeq: number): Batch<R> {
    this.add('end', undefined, (w, seq) => writeBatchEnd(w, seq));
    // a caller that expected more messages than it wrote leaves no holes behind
    this.written.length = this.n;
    return new Batch(this.w, ackSeq, { seqs: this.seqs, whats: this.whats, items: this.items, written: this.written, edges: this.edges, n: this.n });
  }
}
