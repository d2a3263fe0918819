/**
 * The buffers large batches are encoded into, kept out of child processes. Starting any child
 * process copies the whole Node process first (before the exec), after which each page
 * the parent had is copy-on-write, and the next write to it takes a fault with a TLB shoot-down
 * on every core the process runs on. Measured here, refilling a 4 MiB Uint8Array after running
 * one /bin/true took 45–107 ms (0.3 ms without it); the same refill of MADV_DONTFORK memory took
 * 0.25 ms. A 10,000-rule add rewrites 3.3 MB of batch, so a process that starts any child between
 * adds — an agent calling out to a tool, or a benchmark making namespaces with `ip netns add` —
 * paid that on every add, more than the encoding itself. Pages marked MADV_DONTFORK are never
 * shared with a child, so they never become copy-on-write.
 *
 * The mapped buffers are never unmapped (a Batch may still view one); the pool keeps every one
 * it made, one per power-of-two size in use, so their number stays small. Small batches, and
 * any batch when mmap is not available, use WriterPool's ordinary heap buffer.
 */
import { AttributeWriter, WriterPool } from '../../codecs/netlink/attributes.js';
import { getLibc } from './syscalls.js';

/** below this a batch is a few pages: its copy-on-write faults cost less than a mapping */
const MIN_MAPPED = 256 << 10;
const MAX_POPULATED = 8 << 20;

export class SendPool extends WriterPool {
  private readonly free: Uint8Array[] = [];
  /** the mapped buffer each writer was given (a writer that outgrew it holds a heap copy) */
  private readonly lent = new WeakMap<AttributeWriter, Uint8Array>();
  private mapping = true;
  /** given back, not yet zeroed (see give) */
  private readonly dirty: { readonly b: Uint8Array; readonly length: number }[] = [];
  private cleaning = false;

  /** `minMapped`: the smallest batch given a mapped buffer (a caller whose batches are many small messages may map smaller ones) */
  constructor(private readonly maxMapped = 64 << 20, private readonly minMapped = MIN_MAPPED) { super(maxMapped); }

  override take(size: number): AttributeWriter {
    if (size < this.minMapped || size > this.maxMapped) return super.take(size);
    this.clean();
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].length >= size && (best < 0 || this.free[i].length < this.free[best].length)) best = i;
    }
    const b = best >= 0 ? this.free.splice(best, 1)[0] : this.map(size);
    if (!b) return super.take(size);
    const w = new AttributeWriter(size, b);
    this.lent.set(w, b);
    return w;
  }

  override give(w: AttributeWriter): void {
    const b = this.lent.get(w);
    if (!b) { super.give(w); return; }
    this.lent.delete(w);
    // a writer that outgrew its buffer copied it and moved on: what it wrote there is unknown
    this.dirty.push({ b, length: w.backing === b ? w.length : b.length });
    // Zeroed once the caller has its answer, not before: give() runs right after sendmsg, and
    // a 10,000-rule batch's 3.3 MB memset was ~0.3 ms of the add's own time. A take() before
    // then zeroes what it needs itself.
    if (!this.cleaning) {
      this.cleaning = true;
      setImmediate(() => this.clean()).unref();
    }
  }

  /** Zero the buffers given back since the last clean and make them takeable. */
  private clean(): void {
    this.cleaning = false;
    for (const d of this.dirty) { d.b.fill(0, 0, d.length); this.free.push(d.b); }
    this.dirty.length = 0;
  }

  /**
   * Give the free mapped buffers' pages back (they stay mapped, and read as zeros as give() left
   * them): for a long-running caller after a big batch, such as the agent when idle. The next
   * batch that large faults its pages in again (~10 µs each here) instead of finding them resident.
   */
  release(): void {
    this.clean();
    if (this.free.length === 0) return;
    const libc = getLibc();
    for (const b of this.free) libc.discardPages(b);
  }

  private map(size: number): Uint8Array | undefined {
    if (!this.mapping) return undefined;
    let bytes = this.minMapped;
    while (bytes < size) bytes *= 2;
    let b: Uint8Array | undefined;
    // a first add writes into fresh pages: one mmap that faults them all in (MAP_POPULATE) cost
    // 21-24 ms of CPU for 4 MiB here, against 32-39 ms for a fault per page on first touch; above
    // 8 MiB the rounding up to a power of two could populate twice what is written. From 2 MiB up
    // the mapping is in huge pages (syscalls.ts), a few faults whatever the size
    try { b = getLibc().mapDontFork(bytes, bytes <= MAX_POPULATED); } catch { b = undefined; }
    // no libc (koffi missing) or no memory: the heap buffer from now on
    if (!b) this.mapping = false;
    return b;
  }
}
