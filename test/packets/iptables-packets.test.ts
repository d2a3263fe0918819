/**
 * Packets through rules written in the iptables grammar (one `pktmark iptables-restore` per
 * test): port ranges and lists mark what is inside and nothing outside, and `-m mark` tells
 * marked from unmarked packets. Receiver `a` (10.0.0.2) marks; sender `b` sends from 10.0.0.1
 * and 10.0.0.3; observers in `a` count each mark where it was set.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../cli/cli.js';
import { liveTest, uniqueName, withVethPair } from '../helpers/netns.js';
import { addObserver, observerCount, sendUdp } from '../helpers/packets.js';

function restoreFile(lines: readonly string[]): string {
  const f = join(tmpdir(), `${uniqueName('pmip')}.rules`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

liveTest('packets: a port range and a multiport list mark ports inside them and not outside', async (t) => {
  await withVethPair(async (a, b) => {
    const r = await cli(['--netns', a.name, 'iptables-restore', restoreFile([
      '*raw',
      '-A PREROUTING -p udp --dport 1000:2000 -j MARK --set-mark 0x77',
      '-A PREROUTING -p udp -m multiport --dports 53,5000:5001 -j MARK --set-mark 0x88',
      'COMMIT',
    ])]);
    t.is(r.code, 0, r.stderr);
    addObserver(a, 0x77, 'prerouting', 'range');
    addObserver(a, 0x88, 'prerouting', 'portlist');
    sendUdp(b, '10.0.0.1', '10.0.0.2', 3, 1500);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 1, 1000);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 1, 2000);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 4, 999);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 2, 2001);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 2, 53);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 3, 5001);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 1, 54);
    sendUdp(b, '10.0.0.1', '10.0.0.2', 1, 5002);
    t.is(observerCount(a, 'range'), 5, '1500 ×3, 1000, 2000; not 999 or 2001');
    t.is(observerCount(a, 'portlist'), 5, '53 ×2, 5001 ×3; not 54 or 5002');
  });
});

liveTest('packets: -m mark --mark 0/0xff marks only unmarked packets, ! --mark 0/0xff only marked ones', async (t) => {
  await withVethPair(async (a, b) => {
    const r = await cli(['--netns', a.name, 'iptables-restore', restoreFile([
      '*raw',
      '-A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0x5',
      '-A PREROUTING -m mark ! --mark 0/0xff -j MARK --or-mark 0x1000',
      '-A PREROUTING -m mark --mark 0/0xff -j MARK --or-mark 0x200',
      'COMMIT',
    ])]);
    t.is(r.code, 0, r.stderr);
    addObserver(a, 0x1005, 'prerouting', 'marked');
    addObserver(a, 0x200, 'prerouting', 'unmarked');
    sendUdp(b, '10.0.0.1', '10.0.0.2', 3);
    sendUdp(b, '10.0.0.3', '10.0.0.2', 4);
    t.is(observerCount(a, 'marked'), 3, 'packets from 10.0.0.1 were marked 0x5 first, then got 0x1000');
    t.is(observerCount(a, 'unmarked'), 4, 'packets from 10.0.0.3 were unmarked and got 0x200 only');
  });
});
