/** Send real packets between test namespaces and read observer counters. */
import { fileURLToPath } from 'node:url';
import { IP, type Netns, run } from './netns.js';

const SENDER = fileURLToPath(new URL('../demo/send-udp.mjs', import.meta.url));

/** Send `count` UDP datagrams from `src` (an address of `ns`) to `dst`, as fast as one process can. */
export function sendUdp(ns: Netns, src: string, dst: string, count: number, port = 9): void {
  run(IP, ['netns', 'exec', ns.name, process.execPath, SENDER, src, dst, String(port), String(count)]);
}

/**
 * An observer in `ns`: a separate table whose chain runs after pktmark's (priority 0 > raw -300)
 * and counts packets carrying `mark` (and matching `match`, nft words, if given). The mark is per
 * namespace, so it must sit where the mark was set.
 */
export function addObserver(ns: Netns, mark: number, hook: 'prerouting' | 'output' = 'prerouting', table = 'observer', match = ''): void {
  ns.nftFile(`table inet ${table} { chain c { type filter hook ${hook} priority 0; ${match} meta mark 0x${mark.toString(16)} counter; }; }\n`);
}

export function observerCount(ns: Netns, table = 'observer'): number {
  const j = JSON.parse(ns.nft('-j', 'list', 'table', 'inet', table)) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
  for (const o of j.nftables) for (const e of o.rule?.expr ?? []) if (e.counter) return e.counter.packets;
  throw new Error(`no counter in table inet ${table}`);
}
