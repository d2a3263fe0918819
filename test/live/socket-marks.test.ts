/** SO_MARK read-back on every socket kind, and the typed EPERM (with nothing sent) without privileges. */
import { liveTest, withNetns } from '../helpers/netns.js';
import { CHILD, addObserver, counters, runNode } from '../packets/socket-helpers.js';

liveTest('socket: getSocketMark reads back what setSocketMark / connectMarked / createMarkedDgram set; closed and not-yet-open sockets are CLOSED', async (t) => {
  await withNetns(async (ns) => {
    const r = await runNode(ns, CHILD, ['readback']);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(r.lines[0], {
      step: 'readback',
      server: 0xdeadbeef, socket: 7, socketMax: 0xffffffff, fd: 42, socketAfterFd: 42,
      closed: 'CLOSED', dgramUnbound: 'CLOSED', dgram: 99, markedDgram: 0x10, connectMarked: 1234, badFd: 'SYSCALL',
    });
  });
});

liveTest('socket: without CAP_NET_ADMIN every marking API fails with code EPERM and a hint, and no unmarked packet leaves', async (t) => {
  await withNetns(async (ns) => {
    addObserver(ns, { tcp: 'tcp dport 9009', udp: 'udp dport 9009' });
    const r = await runNode(ns, CHILD, ['eperm', '127.0.0.1', '9009'], { nobody: true });
    t.is(r.code, 0, r.stderr);
    t.deepEqual(r.lines[0], {
      step: 'eperm', uid: 65534,
      setSocketMark: 'EPERM', errno: 1,
      hint: 'setting a socket mark needs CAP_NET_ADMIN (or CAP_NET_RAW): run as root or grant the capability',
      getSocketMark: 0, createMarkedDgram: 'EPERM', connectMarked: 'EPERM', connectMarkedByName: 'EPERM', connector: 'EPERM',
    });
    t.deepEqual(counters(ns), { tcp: 0, udp: 0 }, 'a failed mark never falls back to an unmarked SYN');
  });
});
