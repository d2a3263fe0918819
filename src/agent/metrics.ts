/**
 * The agent's Prometheus metrics (prom-client, in a registry of its own so an embedding
 * program's default registry is untouched). Per-rule packets and bytes are read from the kernel
 * at scrape time (one GETGEN-free dump), so they are exactly the kernel's counters; they are on
 * by default up to RULE_METRICS_AUTO_LIMIT managed rules and opt-in beyond, so that the number
 * of series stays bounded.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export type RuleMetricsMode = 'auto' | 'on' | 'off';
export const RULE_METRICS_AUTO_LIMIT = 1000;

/** One managed rule's counters, as the scrape reads them. */
export interface RuleSample {
  /** the rule's name, or its id when it has none */
  readonly rule: string;
  readonly via: string;
  /** the hook (nft) or device (tc, bpf) */
  readonly where: string;
  readonly packets: number;
  readonly bytes: number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly applies: Counter;
  readonly failures: Counter;
  readonly driftRepairs: Counter;
  readonly skips: Counter;
  readonly lastApply: Gauge;
  readonly lastDuration: Gauge;
  readonly ready: Gauge;
  readonly managed: Gauge;

  constructor(rules: () => Promise<readonly RuleSample[]>, mode: RuleMetricsMode = 'auto') {
    const registers = [this.registry];
    this.applies = new Counter({ name: 'pktmark_applies_total', help: 'applies run (file change, resync or start), failed ones included', registers });
    this.failures = new Counter({ name: 'pktmark_apply_failures_total', help: 'applies that failed (bad file, kernel refusal, lost races); the last good state stays', registers });
    this.driftRepairs = new Counter({ name: 'pktmark_drift_repairs_total', help: 'resyncs that found the kernel different from the file and repaired it', registers });
    this.skips = new Counter({ name: 'pktmark_resync_skips_total', help: 'resyncs skipped because the ruleset generation had not moved', registers });
    this.lastApply = new Gauge({ name: 'pktmark_last_apply_timestamp_seconds', help: 'when the last successful apply finished (unix time)', registers });
    this.lastDuration = new Gauge({ name: 'pktmark_last_apply_duration_seconds', help: 'how long the last apply took', registers });
    this.ready = new Gauge({ name: 'pktmark_ready', help: '1 when the last apply succeeded (what /healthz reports)', registers });
    this.managed = new Gauge({ name: 'pktmark_managed_rules', help: 'rules the last successful apply left in the kernel', registers });
    if (mode === 'off') return;
    // prom-client collects all metrics of a scrape concurrently: both counters share one kernel read
    let pending: Promise<readonly RuleSample[]> | undefined;
    const read = (): Promise<readonly RuleSample[]> => (pending ??= rules()
      .then((all) => (mode === 'auto' && all.length > RULE_METRICS_AUTO_LIMIT ? [] : all))
      .finally(() => { pending = undefined; }));
    const labelNames = ['rule', 'via', 'where'] as const;
    for (const [name, help, key] of [
      ['pktmark_rule_packets_total', 'packets the rule marked (kernel counter, read at scrape time)', 'packets'],
      ['pktmark_rule_bytes_total', 'bytes the rule marked (kernel counter, read at scrape time)', 'bytes'],
    ] as const) {
      new Counter({
        name, help, labelNames, registers,
        async collect() {
          const samples = await read();
          this.reset();
          for (const s of samples) this.inc({ rule: s.rule, via: s.via, where: s.where }, s[key]);
        },
      });
    }
  }
}
