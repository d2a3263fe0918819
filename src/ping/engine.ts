/** ICMP / ICMPv6 echo: send probes at an interval, match replies, keep the statistics. */
import { randomInt } from 'node:crypto';
import type { NetnsTarget } from '../transport/netns.js';
import { getLibc } from '../transport/syscalls.js';
import {
  ICMPV6_ECHO_REPLY, ICMP_ECHO_REPLY, type IpVersion, decodeIcmp, describeError, echoPayload,
  encodeEchoRequest, encodeSockaddr,
} from './packet.js';
import { IcmpSocket } from './socket.js';

export interface PingOptions {
  /** numeric address to ping */
  readonly address: string;
  readonly version: IpVersion;
  /** probes to send; undefined = until `signal` aborts */
  readonly count?: number;
  readonly intervalMs?: number;
  /** how long to wait for replies after the last probe (ms) */
  readonly timeoutMs?: number;
  /** SO_MARK for the probes */
  readonly mark?: number;
  readonly netns?: NetnsTarget;
  /** ICMP payload bytes (56 like iputils: 64-byte ICMP messages) */
  readonly size?: number;
  readonly signal?: AbortSignal;
}

export type PingEvent =
  | { readonly kind: 'start'; readonly socket: 'raw' | 'dgram' }
  | { readonly kind: 'reply'; readonly seq: number; readonly bytes: number; readonly from: string; readonly ttl: number | undefined; readonly rttMs: number; readonly duplicate: boolean }
  | { readonly kind: 'icmp-error'; readonly seq: number; readonly from: string; readonly message: string }
  | { readonly kind: 'send-error'; readonly seq: number; readonly errno: number; readonly message: string };

export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  readonly duplicates: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly rttsMs: readonly number[];
  /** 'raw' as root; 'dgram' through an unprivileged ping socket */
  readonly socket: 'raw' | 'dgram';
}

/** Longest single poll, so an abort is noticed quickly. */
const POLL_SLICE_MS = 100;

export async function ping(options: PingOptions, onEvent: (e: PingEvent) => void = () => {}): Promise<PingResult> {
  const { address, version, count, intervalMs = 1000, timeoutMs = 10_000, size = 56, signal } = options;
  const socket = IcmpSocket.open({ version, ...(options.mark === undefined ? {} : { mark: options.mark }), ...(options.netns === undefined ? {} : { netns: options.netns }) });
  try {
    onEvent({ kind: 'start', socket: socket.kind });
    const sockaddr = encodeSockaddr(version, address);
    const payload = echoPayload(size);
    // A raw socket sees every ICMP message of the namespace, so ours are told apart by identifier;
    // a ping socket's identifier is chosen by the kernel, which delivers only our replies.
    const id = randomInt(0x10000);
    const sentAt = new Map<number, number>();
    const settled = new Set<number>();
    let transmitted = 0, received = 0, duplicates = 0, errors = 0;
    const rtts: number[] = [];
    const start = performance.now();
    let nextSend = start;
    let lastSend = start;
    let end = start;

    const handle = (icmp: Uint8Array, from: string | undefined, ttl: number | undefined, now: number): void => {
      const m = decodeIcmp(version, icmp);
      if (!m) return;
      if (socket.kind === 'raw' && m.id !== id) return;
      const sent = sentAt.get(m.seq);
      if (sent === undefined) return;
      if (m.error) {
        if (settled.has(m.seq)) return;
        settled.add(m.seq);
        errors++;
        end = now;
        onEvent({ kind: 'icmp-error', seq: m.seq, from: from ?? '?', message: describeError(version, m.type, m.code) });
        return;
      }
      if (m.type !== (version === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY)) return;
      const duplicate = settled.has(m.seq);
      const rttMs = now - sent;
      if (duplicate) duplicates++;
      else { received++; rtts.push(rttMs); settled.add(m.seq); }
      end = now;
      onEvent({ kind: 'reply', seq: m.seq, bytes: m.length, from: from ?? address, ttl, rttMs, duplicate });
    };

    for (;;) {
      if (signal?.aborted) break;
      const now = performance.now();
      const moreToSend = count === undefined || transmitted < count;
      if (moreToSend && now >= nextSend) {
        const seq = transmitted + 1;
        const sentTime = performance.now();
        const errno = socket.send(encodeEchoRequest(version, id, seq, payload), sockaddr);
        transmitted++;
        sentAt.set(seq & 0xffff, sentTime);
        lastSend = end = sentTime;
        nextSend += intervalMs;
        if (errno !== undefined) {
          errors++;
          settled.add(seq & 0xffff);
          onEvent({ kind: 'send-error', seq, errno, message: getLibc().strerror(errno) });
        }
        continue;
      }
      let deadline: number;
      if (moreToSend) {
        deadline = nextSend;
      } else {
        if (settled.size >= transmitted) break;
        deadline = lastSend + timeoutMs;
        if (now >= deadline) { end = Math.max(end, deadline); break; }
      }
      const d = await socket.receive(Math.min(deadline - now, POLL_SLICE_MS));
      if (d) handle(d.icmp, d.from, d.ttl, performance.now());
    }
    return { transmitted, received, duplicates, errors, elapsedMs: end - start, rttsMs: rtts, socket: socket.kind };
  } finally {
    socket.close();
  }
}
