/** Text output in the shape of iputils ping, so scripts that parse ping keep working. */
import type { IpVersion } from './packet.js';
import type { PingEvent, PingResult } from './engine.js';

/** iputils prints fewer decimals as the time grows: 0.045, 1.23, 12.3, 123. */
export function formatRtt(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function formatHeader(host: string, address: string, version: IpVersion, size: number): string {
  return version === 4
    ? `PING ${host} (${address}) ${size}(${size + 28}) bytes of data.`
    : `PING ${host} (${address}) ${size} data bytes`;
}

export function formatEvent(e: Exclude<PingEvent, { kind: 'start' }>): string {
  switch (e.kind) {
    case 'reply':
      return `${e.bytes} bytes from ${e.from}: icmp_seq=${e.seq}${e.ttl === undefined ? '' : ` ttl=${e.ttl}`} time=${formatRtt(e.rttMs)} ms${e.duplicate ? ' (DUP!)' : ''}`;
    case 'icmp-error':
      return `From ${e.from} icmp_seq=${e.seq} ${e.message}`;
    case 'send-error':
      return `pktmark ping: sendto: ${e.message} (icmp_seq=${e.seq})`;
  }
}

/** %g-like: at most 6 significant digits, no trailing zeros. */
function g(n: number): string { return String(Number(n.toPrecision(6))); }

export function summarize(rtts: readonly number[]): { min: number; avg: number; max: number; mdev: number } | undefined {
  if (rtts.length === 0) return undefined;
  let min = Infinity, max = -Infinity, sum = 0, sum2 = 0;
  for (const r of rtts) { min = Math.min(min, r); max = Math.max(max, r); sum += r; sum2 += r * r; }
  const avg = sum / rtts.length;
  return { min, avg, max, mdev: Math.sqrt(Math.max(0, sum2 / rtts.length - avg * avg)) };
}

export function formatStatistics(host: string, r: PingResult): string[] {
  const loss = r.transmitted === 0 ? 0 : ((r.transmitted - r.received) * 100) / r.transmitted;
  const parts = [`${r.transmitted} packets transmitted`, `${r.received} received`];
  if (r.duplicates) parts.push(`+${r.duplicates} duplicates`);
  if (r.errors) parts.push(`+${r.errors} errors`);
  parts.push(`${g(loss)}% packet loss`, `time ${Math.round(r.elapsedMs)}ms`);
  const lines = ['', `--- ${host} ping statistics ---`, parts.join(', ')];
  const s = summarize(r.rttsMs);
  if (s) lines.push(`rtt min/avg/max/mdev = ${s.min.toFixed(3)}/${s.avg.toFixed(3)}/${s.max.toFixed(3)}/${s.mdev.toFixed(3)} ms`);
  return lines;
}
