/**
 * The whole packet-path state of a namespace, as text, to compare before and after a run of bad
 * inputs: `nft -j list ruleset`; every device's qdiscs and its ingress and egress filters;
 * `ip rule` for both families; XDP on every link; and the bpf programs named pktmark_* (bpf
 * objects are global, not per namespace: any pktmark program appearing or disappearing counts).
 */
import { openBpf } from '../../src/transport/bpf.js';
import { NFT, type Netns } from '../helpers/netns.js';

function pktmarkPrograms(): string[] {
  const bpf = openBpf();
  const out: string[] = [];
  try {
    for (let id = bpf.progNextId(0); id !== undefined; id = bpf.progNextId(id)) {
      let fd: number;
      try { fd = bpf.progGetFdById(id); } catch { continue; } // unloaded between the two calls
      try {
        const info = bpf.progInfo(fd);
        if (info.name.startsWith('pktmark_')) out.push(`${id}:${info.name}:${info.tag}`);
      } finally { bpf.close(fd); }
    }
  } catch (e) {
    out.push(`unavailable: ${(e as Error).message}`);
  }
  return out;
}

export function snapshot(ns: Netns): string {
  const tryRun = (f: () => string): unknown => { try { const s = f(); return s.trim() ? JSON.parse(s) : null; } catch (e) { return String(e); } };
  const links = JSON.parse(ns.ip('-j', 'link', 'show')) as { ifname: string; flags: string[]; xdp?: unknown }[];
  const devices = links.map((l) => ({
    dev: l.ifname,
    flags: l.flags,
    xdp: l.xdp ?? null,
    qdisc: tryRun(() => ns.tc('-j', 'qdisc', 'show', 'dev', l.ifname)),
    ingress: tryRun(() => ns.tc('-j', 'filter', 'show', 'dev', l.ifname, 'ingress')),
    egress: tryRun(() => ns.tc('-j', 'filter', 'show', 'dev', l.ifname, 'egress')),
  }));
  return JSON.stringify({
    nft: JSON.parse(ns.exec(NFT, ['-j', 'list', 'ruleset'])),
    devices,
    rules4: tryRun(() => ns.ip('-j', '-4', 'rule', 'show')),
    rules6: tryRun(() => ns.ip('-j', '-6', 'rule', 'show')),
    bpf: pktmarkPrograms(),
  }, null, 1);
}
