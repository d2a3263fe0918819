import { Marker } from '../../src/index.js';
import { liveTest, withVethPair } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';

// Receiver `a` (10.0.0.2, fd00::2) marks what arrives; sender `b` sends from a matched (…1) and
// an unmatched (…3) source. The observer counts marked packets in `a`, where the mark was set.

liveTest('packets: the v4 cheat-sheet rule marks packets from 10.0.0.1 and not from 10.0.0.3', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const rec = await m.add({ src: '10.0.0.1', mark: 0xdeadbeef });
      addObserver(a, 0xdeadbeef);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 5);
      sendUdp(b, '10.0.0.3', '10.0.0.2', 7);
      t.is(observerCount(a), 5);
      const [listed] = await m.list();
      t.is(listed.id, rec.id);
      t.is(listed.packets, 5, 'pktmark’s own counter matched the same 5 packets');
    } finally { await m.close(); }
  });
});

liveTest('packets: the v6 cheat-sheet rule marks packets from fd00::1 and not from fd00::3', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      // Neighbour discovery first: its solicitations come from fd00::1 too and would be marked.
      sendUdp(b, 'fd00::1', 'fd00::2', 1);
      sendUdp(b, 'fd00::3', 'fd00::2', 1);
      await m.add({ family: 'ip6', src: 'fd00::1', mark: '0xdeadbeef' });
      // only the datagrams: on a loaded machine the neighbour entry can go stale and be probed
      // again, and that solicitation from fd00::1 is (rightly) marked too (seen: 5 for 4)
      addObserver(a, 0xdeadbeef, 'prerouting', 'observer', 'udp dport 9');
      sendUdp(b, 'fd00::1', 'fd00::2', 4);
      sendUdp(b, 'fd00::3', 'fd00::2', 6);
      t.is(observerCount(a), 4);
    } finally { await m.close(); }
  });
});

liveTest('packets: mark/mask changes only the masked bits', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      // two rules in order: set the whole mark, then change bits 4-7 only → 0xdeadbe5f
      await m.add([{ src: '10.0.0.1', mark: 0xdeadbeef }, { src: '10.0.0.1', mark: '0x50/0xf0' }]);
      addObserver(a, 0xdeadbe5f);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
      t.is(observerCount(a), 3);
    } finally { await m.close(); }
  });
});

liveTest('packets: the rate-limited rule (1/second, burst 1) marks exactly one of a quick burst of 20', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: a.name });
    try {
      await m.add({ src: '10.0.0.1', mark: 0xdeadbeef, rate: '1/second', burst: 1 });
      addObserver(a, 0xdeadbeef);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 20);
      t.is(observerCount(a), 1);
    } finally { await m.close(); }
  });
});

liveTest('packets: an output-hook rule marks locally sent packets (re-routed by the route chain)', async (t) => {
  await withVethPair(async (a, b) => {
    const m = await Marker.open({ netns: b.name });
    try {
      await m.add({ hook: 'output', dst: '10.0.0.2', proto: 'udp', dport: 9, mark: 0x1234 });
      addObserver(b, 0x1234, 'output');
      sendUdp(b, '10.0.0.1', '10.0.0.2', 3, 9);
      sendUdp(b, '10.0.0.1', '10.0.0.2', 2, 10);
      t.is(observerCount(b), 3);
    } finally { await m.close(); }
  });
});
