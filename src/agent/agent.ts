/**
 * The agent: a loop around apply. It applies the file at start, again within ~100 ms when the
 * file changes (the directory is watched, so a Kubernetes ConfigMap's atomic `..data` symlink
 * swap is seen as well as an edit in place), and every `resyncMs` to repair drift — skipping the
 * dump when the ruleset generation has not moved since its own last commit. A bad file keeps
 * the last good state (nothing is ever cleared because of it) and makes the agent not-ready.
 * One JSON line is logged per apply.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Server } from 'node:http';
import { PktmarkError } from '../errors.js';
import { backendContext, type Marker } from '../marker.js';
import { apply, ApplyCache, DesiredLines, parseDesired, type ApplyResult, type DesiredState, type Prune } from '../apply/index.js';
import { readState } from '../apply/state.js';
import { NETLINK_NETFILTER } from '../transport/transport.js';
import { batchPool } from '../backends/nft/index.js';
import { tcBatchPool } from '../backends/tc/send.js';
import { AgentMetrics, type RuleMetricsMode, type RuleSample } from './metrics.js';
import { IdleRelease, releaseMemory, settleMemory } from './memory.js';
import { serve, type Listen } from './http.js';

export interface AgentOptions {
  /** the desired-state file (YAML or JSON) */
  readonly file: string;
  /** drift repair period (default 30 s) */
  readonly resyncMs?: number;
  readonly prune?: Prune;
  /** where to serve /metrics, /healthz and /livez; absent: no HTTP */
  readonly listen?: Listen;
  readonly ruleMetrics?: RuleMetricsMode;
  /** one JSON line per apply (default: stdout) */
  readonly log?: (line: string) => void;
  /** how long after a file event to read it (events come in bursts; default 100 ms) */
  readonly debounceMs?: number;
  /**
   * Give memory back between applies (default false): once the event loop is idle after an
   * apply that did real work, a full GC, the batch buffers' pages and glibc's free memory; 5.5 s
   * later one more GC, in which V8 shrinks its young generation (src/agent/memory.ts). Measured
   * with 10,000 rules: 74 MB at rest instead of ~117 MB, but the next 1% change in the CLI agent
   * took about twice as long (the memory it needs is faulted in again), so it is off unless asked
   * for. It acts on the whole process.
   */
  readonly releaseMemory?: boolean;
}

export type ApplyReason = 'start' | 'file' | 'resync' | 'exit';

/** How long an apply may run, or the loop go without a tick, before /livez calls it stuck. */
export const stuckAfterMs = (resyncMs: number): number => 60_000 + 2 * resyncMs;

export class Agent {
  readonly metrics: AgentMetrics;
  private readonly file: string;
  private readonly resyncMs: number;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private server: Server | undefined;
  private running: Promise<void> = Promise.resolve();
  private queued: ApplyReason | undefined;
  private stopped = false;
  /** the text of the last file that applied, and the generation that apply left */
  private goodText: string | undefined;
  private goodDesired: DesiredState | undefined;
  /** the rules of the last parse by line: a change re-reads only the lines that changed */
  private readonly lines = new DesiredLines();
  /** the table as the last apply left it, so a change while nobody else committed needs no dump */
  private readonly cache = new ApplyCache();
  private generation: number | undefined;
  private lastError: PktmarkError | undefined;
  private applyStartedAt: number | undefined;
  private lastTickAt = Date.now();
  private readonly idleRelease: IdleRelease | undefined;
  /** where the HTTP endpoint listens, once started */
  address: Listen | undefined;

  constructor(private readonly marker: Marker, private readonly opts: AgentOptions) {
    if (typeof opts?.file !== 'string' || opts.file === '') throw new PktmarkError('INVALID_OPTION', 'the agent needs a file', { field: 'file' });
    if (opts.resyncMs !== undefined && (!Number.isFinite(opts.resyncMs) || opts.resyncMs < 100)) {
      throw new PktmarkError('INVALID_OPTION', `resync ${opts.resyncMs} ms must be at least 100 ms`, { field: 'resync' });
    }
    this.file = resolve(opts.file);
    this.resyncMs = opts.resyncMs ?? 30_000;
    this.metrics = new AgentMetrics(() => this.samples(), opts.ruleMetrics ?? 'auto');
    this.metrics.ready.set(0);
    if (opts.releaseMemory === true) this.idleRelease = new IdleRelease(() => releaseMemory([batchPool, tcBatchPool]), settleMemory);
  }

  get ready(): boolean { return this.goodText !== undefined && this.lastError === undefined; }
  get error(): PktmarkError | undefined { return this.lastError; }

  /** Apply the file once, then watch it and resync; resolves after the first apply (good or bad). */
  async start(): Promise<void> {
    if (this.opts.listen) {
      const s = await serve(this.opts.listen, this.metrics.registry, {
        ready: () => (this.ready ? { ok: true, detail: 'ok' } : { ok: false, detail: this.lastError ? this.lastError.toLine() : 'not applied yet' }),
        live: () => this.live(),
      });
      this.server = s.server;
      this.address = s.address;
    }
    // the directory, not the file: a ConfigMap update renames ..data over a new directory
    this.watcher = watch(dirname(this.file), { persistent: false }, () => this.fileEvent());
    this.watcher.on('error', () => { /* the resync still re-reads the file */ });
    await this.trigger('start');
    this.timer = setInterval(() => { this.lastTickAt = Date.now(); void this.trigger('resync'); }, this.resyncMs);
  }

  private live(): { ok: boolean; detail: string } {
    const now = Date.now();
    const limit = stuckAfterMs(this.resyncMs);
    if (this.applyStartedAt !== undefined && now - this.applyStartedAt > limit) return { ok: false, detail: `an apply has run for ${now - this.applyStartedAt} ms` };
    if (now - this.lastTickAt > limit) return { ok: false, detail: `the loop has not ticked for ${now - this.lastTickAt} ms` };
    return { ok: true, detail: 'ok' };
  }

  private fileEvent(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.trigger('file'), this.opts.debounceMs ?? 100);
  }

  /** Run an apply now, or right after the one running (several triggers meanwhile make one apply). */
  trigger(reason: ApplyReason): Promise<void> {
    if (this.queued !== undefined) return this.running;
    this.queued = reason;
    this.running = this.running.then(async () => {
      const r = this.queued ?? reason;
      this.queued = undefined;
      if (!this.stopped) await this.once(r);
    });
    return this.running;
  }

  private log(o: Record<string, unknown>): void {
    (this.opts.log ?? ((l: string) => process.stdout.write(`${l}\n`)))(JSON.stringify({ time: new Date().toISOString(), ...o }));
  }

  private async once(reason: ApplyReason): Promise<void> {
    const started = performance.now();
    this.applyStartedAt = Date.now();
    this.idleRelease?.busy();
    let worked = false;
    try {
      const text = await readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new PktmarkError('INVALID_ARGUMENT', `cannot read ${this.file}: ${e.code ?? e.message}`, { field: 'file' });
      });
      // steady state: same file, and nobody committed since our last apply → no dump at all
      const same = text === this.goodText && this.lastError === undefined;
      if (reason === 'file' && same) return;
      const desired = same && this.goodDesired ? this.goodDesired : parseDesired(text, basename(this.file), this.lines);
      const ctx = backendContext(this.marker);
      const r: ApplyResult = await apply(ctx, desired, {
        cache: this.cache,
        ...(this.opts.prune !== undefined ? { prune: this.opts.prune } : {}),
        ...(same && this.generation !== undefined ? { unlessGeneration: this.generation } : {}),
      });
      this.goodDesired = desired;
      this.generation = r.generationAfter;
      if (r.skipped) { this.metrics.skips.inc(); return; }
      worked = true;
      this.metrics.applies.inc();
      if (reason === 'resync' && r.sent) this.metrics.driftRepairs.inc();
      // an equal text read again is not kept instead: the parse's lines still point into the first one
      if (text !== this.goodText) this.goodText = text;
      this.lastError = undefined;
      this.metrics.ready.set(1);
      this.metrics.lastApply.set(Date.now() / 1000);
      this.metrics.managed.set(r.kept + r.added + r.replaced + r.moved);
      const durationMs = performance.now() - started;
      this.metrics.lastDuration.set(durationMs / 1000);
      this.log({ event: 'apply', reason, added: r.added, removed: r.removed, replaced: r.replaced, moved: r.moved, kept: r.kept, sent: r.sent, retries: r.retries, durationMs: Math.round(durationMs * 10) / 10 });
    } catch (e) {
      worked = true;
      const err = e instanceof PktmarkError ? e : new PktmarkError('KERNEL', e instanceof Error ? e.message : String(e));
      this.metrics.applies.inc();
      this.metrics.failures.inc();
      this.metrics.ready.set(0);
      this.lastError = err;
      this.generation = undefined; // look again next time
      this.cache.clear();
      this.log({ event: 'apply', reason, error: err.toJSON(), kept: 'last good state', durationMs: Math.round((performance.now() - started) * 10) / 10 });
    } finally {
      this.applyStartedAt = undefined;
      this.lastTickAt = Date.now();
      this.idleRelease?.idle(worked);
    }
  }

  /** The managed rules' counters, for the scrape. */
  private async samples(): Promise<RuleSample[]> {
    const ctx = backendContext(this.marker);
    const state = await readState(await ctx.transport(NETLINK_NETFILTER), ctx.table);
    return state.rules.filter((r) => r.managed).map((r) => ({ rule: r.name ?? r.id, via: 'nft', where: r.chain, packets: Number(r.packets), bytes: Number(r.bytes) }));
  }

  /** Stop watching and serving. The rules stay, unless `clear`: then apply's rules are removed (an empty desired state). */
  async stop(opts: { clear?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.running;
    this.idleRelease?.stop();
    if (opts.clear) {
      const r = await apply(backendContext(this.marker), { rules: [] }, { prune: true });
      this.log({ event: 'clear', removed: r.removed });
    }
    if (this.server) await new Promise<void>((res) => this.server!.close(() => res()));
  }
}
