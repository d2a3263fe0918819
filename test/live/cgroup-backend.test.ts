/**
 * Packets (root): via 'cgroup' marks the sockets of a process placed in a cgroup, and nobody
 * else's. A fresh uniquely named cgroup under the cgroup2 mount; a veth pair between two
 * throwaway namespaces; two sender processes in namespace `b` — one moved into the cgroup before
 * it creates its socket, one not. An observer in `b`'s output hook (where the sockets live)
 * counts marked datagrams; one in `a`'s prerouting shows the mark scrubbed across the veth.
 * After `clear`, the cgroup's attachments are as before. The cgroup and the namespaces are
 * removed in `finally`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BPF_CGROUP_INET_SOCK_CREATE } from '../../codecs/bpf/attr.js';
import { Marker } from '../../src/index.js';
import { openBpf } from '../../src/transport/bpf.js';
import { findCgroup2Mount, openCgroup } from '../../src/transport/cgroup.js';
import { IP, liveTest, uniqueName, withVethPair, type Netns } from '../helpers/netns.js';

const MARK = 0xdeadbeef;
const PORT = 9999;

/** node in `ns`: prints its pid, waits for a line on stdin, then creates one UDP socket and sends `count` datagrams */
const CHILD = `
const dgram = require('node:dgram');
process.stdout.write(process.pid + '\\n');
process.stdin.once('data', () => {
  const s = dgram.createSocket('udp4');
  let n = Number(process.argv[1]);
  const next = () => { if (n-- <= 0) { s.close(); process.exit(0); } else s.send('x', ${PORT}, '10.0.0.2', next); };
  next();
});`;

function sender(ns: Netns, count: number): { child: ChildProcess; pid: Promise<number>; go: () => Promise<void> } {
  const child = spawn(IP, ['netns', 'exec', ns.name, process.execPath, '-e', CHILD, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pid = new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  const exited = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`)))));
  return { child, pid, go: async () => { child.stdin!.write('go\n'); await exited; } };
}

function counters(ns: Netns, table: string): number[] {
  const j = JSON.parse(ns.nft('-j', 'list', 'table', 'inet', table)) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
  return j.nftables.flatMap((o) => (o.rule?.expr ?? []).flatMap((e) => (e.counter ? [e.counter.packets] : [])));
}
const observer = (ns: Netns, hook: string): void => {
  ns.nftFile(`table inet obs { chain c { type filter hook ${hook} priority 0; udp dport ${PORT} meta mark 0x${MARK.toString(16)} counter; udp dport ${PORT} counter; }; }\n`);
};

function attachedIds(path: string): { attachFlags: number; progIds: readonly number[] } {
  const bpf = openBpf();
  const fd = openCgroup(path);
  try { return bpf.progQuery(fd, BPF_CGROUP_INET_SOCK_CREATE); } finally { bpf.close(fd); }
}

liveTest('packets: a process in the cgroup has its packets marked (3 of 3), another process\'s not (0 of 4); clear leaves the cgroup as before', async (t) => {
  const mount = findCgroup2Mount();
  const name = uniqueName('pktmark-cg');
  const dir = join(mount.mountPoint, name);
  mkdirSync(dir);
  const children: ChildProcess[] = [];
  const m = await Marker.open();
  try {
    const before = attachedIds(dir);
    const rootBefore = attachedIds(mount.mountPoint);
    await withVethPair(async (a, b) => {
      observer(b, 'output');
      observer(a, 'prerouting');
      const rec = await m.add({ cgroup: name, mark: MARK, comment: 'cg test' });
      t.regex(rec.id, /^cgroup:\d+$/);
      t.is(rec.rule?.cgroup, `/${name}`);

      const inside = sender(b, 3), outside = sender(b, 4);
      children.push(inside.child, outside.child);
      // into the cgroup from here: `ip netns exec` remounts /sys, so the child cannot see the mount
      writeFileSync(join(dir, 'cgroup.procs'), `${await inside.pid}\n`);
      await outside.pid;
      await inside.go();
      await outside.go();

      const [markedOut, allOut] = counters(b, 'obs');
      t.is(allOut, 7, 'all 7 datagrams left b');
      t.is(markedOut, 3, 'exactly the 3 of the process in the cgroup carried the mark in its own namespace');
      const [markedIn, allIn] = counters(a, 'obs');
      t.is(allIn, 7, 'all 7 arrived in a');
      t.is(markedIn, 0, 'the mark is scrubbed when the packet crosses the veth into another namespace');

      const listed = (await m.list({ via: 'cgroup' })).find((r) => r.id === rec.id);
      t.truthy(listed, 'list finds the rule by walking the cgroup tree');
      t.deepEqual(listed?.rule, rec.rule);
      t.is(listed?.packets, 1, 'one socket was created (and marked) in the cgroup');
      t.regex(listed?.text ?? '', new RegExp(`bpftool cgroup attach ${dir} sock_create id \\d+ multi`));

      // a Marker on a netns never touches host-wide cgroup rules
      const nsm = await Marker.open({ netns: b.name });
      try {
        t.deepEqual(await nsm.list({ via: 'cgroup' }), []);
        await nsm.clear({ via: 'cgroup' });
        await t.throwsAsync(() => nsm.add({ cgroup: name, mark: 1 }), { code: 'INVALID_OPTION' });
      } finally { await nsm.close(); }
      t.deepEqual(attachedIds(dir).progIds, [Number(rec.id.slice('cgroup:'.length))]);

      await m.clear({ via: 'cgroup' });
      t.deepEqual(attachedIds(dir), before, 'the cgroup\'s attached programs are as before');
      t.deepEqual(attachedIds(mount.mountPoint), rootBefore);
      t.false((await m.list({ via: 'cgroup' })).some((r) => r.rule?.cgroup === `/${name}`));
    });
  } finally {
    await m.clear({ via: 'cgroup' }).catch(() => undefined);
    await m.close();
    for (const c of children) if (c.exitCode === null) c.kill();
    // move anything left out, then remove the cgroup
    try {
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try { writeFileSync(join(mount.mountPoint, 'cgroup.procs'), `${pid}\n`); } catch { /* it exited */ }
      }
    } catch { /* gone */ }
    for (let i = 0; i < 50; i++) { try { rmdirSync(dir); break; } catch { await new Promise((r) => setTimeout(r, 20)); } }
  }
});
