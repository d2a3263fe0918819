/**
 * Verifier proof on this kernel (root): every generated program shape (fixtures/bpf) is loaded
 * with BPF_PROG_LOAD through pktmark's bpf() layer and must be accepted. Where bpftool exists,
 * its `prog dump xlated` of the map-free program is compared with pktmark's disassembly.
 * Then packets: the tc marker, pinned into a private bpffs and attached with
 * `tc … bpf da pinned`, marks 3/3 UDP packets from 10.0.0.1 and 0/4 from 10.0.0.3, counted by
 * an nft observer in the namespace where the mark was set and by the rule's own map counters;
 * the rate-limited shape marks exactly 1 of a burst of 20; and the XDP metadata pair (generic and
 * native veth XDP + the tc copy program) marks 3/3 from 10.0.0.1 and 0/4 from 10.0.0.3.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { liveTest, withVethPair, run, IP, TC, type Netns } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';
import { openBpf, type BpfSys } from '../../src/transport/bpf.js';
import { assemble } from '../../codecs/bpf/asm.js';
import { disassemble } from '../../codecs/bpf/disasm.js';
import { BPF_MAP_TYPE_ARRAY } from '../../codecs/bpf/attr.js';
import { CONFIG_VALUE_SIZE, PKTMARK_CONFIG_MAP, decodeConfigValue, encodeConfigValue, type BpfProgram } from '../../codecs/bpf/programs/index.js';
import { SHAPES, buildShape, specFromJson, type Shape } from '../../fixtures/bpf/shapes.js';

const BPFTOOL = '/usr/sbin/bpftool';
const key = (slot: number): Uint8Array => new Uint8Array(new Uint32Array([slot]).buffer);

function withConfigMap<T>(bpf: BpfSys, shape: Shape, fn: (mapFd: number) => T): T {
  const max = Math.max(1, ...shape.rules.map((r) => r.slot + 1));
  const map = bpf.mapCreate({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: CONFIG_VALUE_SIZE, maxEntries: max, name: PKTMARK_CONFIG_MAP });
  try {
    for (const r of shape.rules) bpf.mapUpdate(map, key(r.slot), encodeConfigValue(specFromJson(r.spec)));
    return fn(map);
  } finally { bpf.close(map); }
}

function load(bpf: BpfSys, p: BpfProgram, mapFd: number): number {
  return bpf.progLoad({
    type: p.progType, insns: assemble(p.items, { maps: { [PKTMARK_CONFIG_MAP]: mapFd } }), license: p.license, name: p.name,
    ...(p.expectedAttachType === undefined ? {} : { expectedAttachType: p.expectedAttachType }),
  });
}

for (const shape of SHAPES) {
  liveTest(`bpf verifier accepts ${shape.name}`, (t) => {
    const bpf = openBpf();
    const p = buildShape(shape.kind, shape.rules);
    withConfigMap(bpf, shape, (map) => {
      const fd = load(bpf, p, map);
      try {
        const info = bpf.progInfo(fd);
        t.is(info.name, p.name);
        t.is(info.type, p.progType);
        t.log(`${shape.name}: ${assemble(p.items).length / 8} instructions, xlated ${info.xlatedLen / 8}, tag ${info.tag}`);
      } finally { bpf.close(fd); }
    });
  });
}

liveTest('bpftool prog dump xlated of the map-free program matches pktmark\'s disassembly', (t) => {
  if (spawnSync(BPFTOOL, ['version']).error) {
    const why = `${BPFTOOL} is missing (apt-get install bpftool)`;
    if (process.env.CI) t.fail(why); else { t.log(`skip: ${why}`); t.pass(); }
    return;
  }
  const bpf = openBpf();
  const shape = SHAPES.find((s) => s.kind === 'xdpcp')!;
  const p = buildShape(shape.kind, shape.rules);
  const fd = bpf.progLoad({ type: p.progType, insns: assemble(p.items), license: p.license, name: p.name });
  try {
    const { id } = bpf.progInfo(fd);
    // bpftool pads the pc to 4 columns; the instruction text is disasm.c's, as is ours. The kernel
    // rewrites context accesses (__sk_buff fields become sk_buff loads) in xlated, so only the
    // lines that do not touch the context are expected to be identical.
    const xlated = run(BPFTOOL, ['prog', 'dump', 'xlated', 'id', String(id)]).split('\n').filter((l) => /^\s*\d+: /.test(l)).map((l) => l.trim());
    const ours = disassemble(p.items);
    t.log(`bpftool xlated:\n${xlated.join('\n')}`);
    t.is(xlated.length, ours.length, 'no instruction added or removed');
    // every line that differs must be a context access the kernel rewrote (r1 is the __sk_buff)
    const differing = ours.filter((l, k) => l !== xlated[k]);
    t.true(differing.every((l) => /\(r1 [+-]\d+\)/.test(l)), `only context accesses differ: ${differing.join(' | ')}`);
    t.true(ours.length - differing.length >= 10, `${ours.length - differing.length} of ${ours.length} lines are identical`);
  } finally { bpf.close(fd); }
});

/** Attach the tc marker of `shape` on va ingress in `a`, run `fn`, and return the rule's map counters. */
async function withTcMarker(t: ExecutionContext, a: Netns, shape: Shape, fn: () => void): Promise<{ packets: bigint; bytes: bigint }> {
  const bpf = openBpf();
  const dir = mkdtempSync('/run/pktmark-bpffs-');
  // a private bpffs outside /sys: `ip netns exec` and `tc -n` remount /sys and would hide /sys/fs/bpf
  run('/usr/bin/mount', ['-t', 'bpf', 'bpf', dir]);
  try {
    return withConfigMap(bpf, shape, (map) => {
      const fd = load(bpf, buildShape(shape.kind, shape.rules), map);
      try {
        bpf.objPin(fd, `${dir}/prog`);
        a.tc('qdisc', 'add', 'dev', 'va', 'clsact');
        a.tc('filter', 'add', 'dev', 'va', 'ingress', 'bpf', 'da', 'pinned', `${dir}/prog`);
        fn();
        const v = decodeConfigValue(bpf.mapLookup(map, key(shape.rules[0].slot))!);
        t.truthy(v.spec, 'the rule decodes back from the kernel\'s map');
        return { packets: v.packets, bytes: v.bytes };
      } finally { bpf.close(fd); }
    });
  } finally {
    spawnSync('/usr/bin/umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

liveTest('tc marker marks 3/3 packets from 10.0.0.1 and 0/4 from 10.0.0.3', async (t) => {
  await withVethPair(async (a, b) => {
    addObserver(a, 0xdeadbeef);
    const c = await withTcMarker(t, a, SHAPES.find((s) => s.name === 'tc-v4-src')!, () => {
      sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
      sendUdp(b, '10.0.0.3', '10.0.0.2', 4);
      t.is(observerCount(a), 3);
    });
    t.is(c.packets, 3n, 'the program counted its matches in the config map');
    t.true(c.bytes >= 3n * 28n, `bytes ${c.bytes}`);
    t.is(spawnSync(TC, ['-n', a.name, 'filter', 'show', 'dev', 'va', 'ingress']).status, 0);
  });
});

liveTest('rate 1/second burst 1: a quick burst of 20 packets gets exactly one mark', async (t) => {
  await withVethPair(async (a, b) => {
    addObserver(a, 0xdeadbeef);
    const c = await withTcMarker(t, a, SHAPES.find((s) => s.name === 'tc-rate')!, () => {
      sendUdp(b, '10.0.0.1', '10.0.0.2', 20);
      t.is(observerCount(a), 1);
    });
    t.is(c.packets, 1n, 'packets over the rate are not counted');
  });
});

for (const mode of ['xdpgeneric', 'xdpdrv'] as const) {
  liveTest(`XDP metadata pair (${mode}): 3/3 packets from 10.0.0.1 marked through the tc copy, 0/4 from 10.0.0.3`, async (t) => {
    await withVethPair(async (a, b) => {
      addObserver(a, 0xdeadbeef);
      const bpf = openBpf();
      const shape = SHAPES.find((s) => s.name === 'xdp-one')!;
      const dir = mkdtempSync('/run/pktmark-bpffs-');
      run('/usr/bin/mount', ['-t', 'bpf', 'bpf', dir]);
      try {
        withConfigMap(bpf, shape, (map) => {
          const xdp = load(bpf, buildShape('xdp', shape.rules), map);
          const copy = load(bpf, buildShape('xdpcp', []), map);
          try {
            bpf.objPin(xdp, `${dir}/xdp`);
            bpf.objPin(copy, `${dir}/copy`);
            a.ip('link', 'set', 'dev', 'va', mode, 'pinned', `${dir}/xdp`);
            a.tc('qdisc', 'add', 'dev', 'va', 'clsact');
            a.tc('filter', 'add', 'dev', 'va', 'ingress', 'bpf', 'da', 'pinned', `${dir}/copy`);
            sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
            sendUdp(b, '10.0.0.3', '10.0.0.2', 4);
            t.is(observerCount(a), 3);
            t.is(decodeConfigValue(bpf.mapLookup(map, key(0))!).packets, 3n);
          } finally {
            spawnSync(IP, ['-n', a.name, 'link', 'set', 'dev', 'va', mode, 'off']);
            bpf.close(xdp);
            bpf.close(copy);
          }
        });
      } finally {
        spawnSync('/usr/bin/umount', [dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
