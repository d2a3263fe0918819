/**
 * pktmark demo: two throwaway namespaces joined by a veth pair. In the receiving namespace a
 * pktmark rule (the cheat sheet's `iptables -t raw -A PREROUTING -s 10.0.0.1 -j MARK
 * --set-mark 0xdeadbeef`, added over netlink, no binary) marks what arrives from 10.0.0.1; a
 * separate observer rule counts packets that carry the mark. The sender sends from 10.0.0.1
 * (marked) and 10.0.0.3 (not). Everything is removed at the end, on error and on Ctrl-C.
 *
 * The namespaces, veth pair and observer are made with `ip` and `nft` (this is the demo's
 * scaffolding, not pktmark: the library itself never runs a program).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Marker, explain, encode, PktmarkError } from '../../src/index.js';

const IP = '/usr/sbin/ip';
const NFT = '/usr/sbin/nft';
const tag = `${process.pid}`;
const A = `pmdemo-${tag}-rx`;
const B = `pmdemo-${tag}-tx`;
const made: string[] = [];
const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

function cleanup(): void {
  for (const ns of made.splice(0)) spawnSync(IP, ['netns', 'del', ns]);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => { console.log(`\n${sig}: cleaning up`); cleanup(); process.exit(130); });
}
process.on('exit', cleanup);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (it creates network namespaces)');
  console.log(`# 1. namespaces ${A} (receiver, 10.0.0.2) and ${B} (sender, 10.0.0.1 and 10.0.0.3) over a veth pair`);
  for (const ns of [A, B]) { sh(IP, 'netns', 'add', ns); made.push(ns); sh(IP, '-n', ns, 'link', 'set', 'lo', 'up'); }
  sh(IP, 'link', 'add', 'va', 'netns', A, 'type', 'veth', 'peer', 'name', 'vb', 'netns', B);
  sh(IP, '-n', A, 'addr', 'add', '10.0.0.2/24', 'dev', 'va');
  sh(IP, '-n', B, 'addr', 'add', '10.0.0.1/24', 'dev', 'vb');
  sh(IP, '-n', B, 'addr', 'add', '10.0.0.3/24', 'dev', 'vb');
  sh(IP, '-n', A, 'link', 'set', 'va', 'up');
  sh(IP, '-n', B, 'link', 'set', 'vb', 'up');

  const rule = { src: '10.0.0.1', mark: 0xdeadbeef, comment: 'pktmark demo' } as const;
  console.log('\n# 2. the rule, and what it is in nft terms and on the wire (no root needed for these)');
  console.log(`   ${explain(rule)}`);
  for (const m of encode(rule)) console.log(`   ${Buffer.from(m).toString('hex')}`);

  console.log(`\n# 3. pktmark adds it in ${A} over netlink`);
  const m = await Marker.open({ netns: A });
  try {
    const rec = await m.add(rule);
    console.log(`   added ${rec.id}`);

    // The observer sits in a later chain (priority 0, after pktmark's raw -300) of the same namespace:
    // the mark lives in the namespace where it was set.
    execFileSync(IP, ['netns', 'exec', A, NFT, '-f', '-'], {
      input: 'table inet observer { chain pre { type filter hook prerouting priority 0; meta mark 0xdeadbeef counter; }; }\n',
    });

    console.log('\n# 4. sending 5 UDP packets from 10.0.0.1 and 5 from 10.0.0.3 to 10.0.0.2');
    const sender = fileURLToPath(new URL('./send-udp.mjs', import.meta.url));
    sh(IP, 'netns', 'exec', B, process.execPath, sender, '10.0.0.1', '10.0.0.2', '9', '5');
    sh(IP, 'netns', 'exec', B, process.execPath, sender, '10.0.0.3', '10.0.0.2', '9', '5');

    console.log('\n# 5. results');
    for (const r of await m.list()) {
      console.log(`   pktmark rule ${r.id}: ${r.packets} packets, ${r.bytes} bytes  (${r.text})`);
    }
    const obs = JSON.parse(sh(IP, 'netns', 'exec', A, NFT, '-j', 'list', 'table', 'inet', 'observer')) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
    const counted = obs.nftables.flatMap((o) => o.rule?.expr ?? []).find((e) => e.counter)?.counter?.packets;
    console.log(`   observer "meta mark 0xdeadbeef counter": ${counted} packets carry the mark (expected 5: from 10.0.0.1 only)`);
    await m.clear();
    console.log(`\n# 6. cleared pktmark's table; removing the namespaces`);
  } finally {
    await m.close();
  }
}

main().then(() => { cleanup(); console.log('done'); }, (e: unknown) => {
  cleanup();
  console.error(e instanceof PktmarkError ? `error: ${e.toLine()}` : e);
  process.exit(1);
});
