/** `pktmark ping` against a peer namespace: iputils-like output, hex marks, --netns, and every error path. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { IP, type Netns, liveTest, withVethPair } from '../helpers/netns.js';
import { PING_CLI, addObserver, counters, runNode } from '../packets/socket-helpers.js';

const REPLY_V4 = /^64 bytes from 10\.0\.0\.1: icmp_seq=(\d+) ttl=64 time=\d+(\.\d+)? ms$/;
const REPLY_V6 = /^64 bytes from fd00::1: icmp_seq=(\d+) ttl=64 time=\d+(\.\d+)? ms$/;
const RTT = /^rtt min\/avg\/max\/mdev = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/;

const ping = (ns: Netns | undefined, args: string[], nobody = false) => runNode(ns, PING_CLI, args, { nobody });

liveTest('ping: IPv4 output like iputils, one line per reply, statistics and rtt summary, exit 0', async (t) => {
  await withVethPair(async (a) => {
    const r = await ping(a, ['-c', '3', '-i', '0.2', '10.0.0.1']);
    t.is(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    t.is(lines[0], 'PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.');
    t.deepEqual(lines.slice(1, 4).map((l) => REPLY_V4.exec(l)?.[1]), ['1', '2', '3']);
    t.is(lines[4], '');
    t.is(lines[5], '--- 10.0.0.1 ping statistics ---');
    t.regex(lines[6]!, /^3 packets transmitted, 3 received, 0% packet loss, time \d+ms$/);
    t.regex(lines[7]!, RTT);
    t.is(lines.length, 8);
  });
});

liveTest('ping: IPv6 with -6 and a hex mark; the observer counts exactly the probes', async (t) => {
  await withVethPair(async (a) => {
    addObserver(a, { marked: 'meta mark 0xdeadbeef icmpv6 type echo-request', all: 'icmpv6 type echo-request' });
    const r = await ping(a, ['-6', '-m', '0xdeadbeef', '-c', '2', '-i', '0.2', 'fd00::1']);
    t.is(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    t.is(lines[0], 'PING fd00::1 (fd00::1) 56 data bytes');
    t.deepEqual(lines.slice(1, 3).map((l) => REPLY_V6.exec(l)?.[1]), ['1', '2']);
    t.regex(lines.at(-1)!, RTT);
    t.deepEqual(counters(a), { marked: 2, all: 2 });
  });
});

liveTest('ping: --netns opens the socket in the named namespace (run from outside it)', async (t) => {
  await withVethPair(async (a) => {
    addObserver(a, { marked: 'meta mark 1234 icmp type echo-request' });
    // The child runs in the test's own namespace and only sends from `a`: its socket lives there.
    const r = await ping(undefined, ['--netns', a.name, '-m', '1234', '-c', '2', '-i', '0.2', '10.0.0.1']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
    t.deepEqual(counters(a), { marked: 2 });
  });
});

liveTest('ping: a silent peer times out after -W with a ping-like summary and exit 1', async (t) => {
  await withVethPair(async (a, b) => {
    b.nft('add', 'table', 'inet', 'silence');
    b.nft('add', 'chain', 'inet', 'silence', 'in', '{ type filter hook input priority 0; }');
    b.nft('add', 'rule', 'inet', 'silence', 'in', 'icmp', 'type', 'echo-request', 'drop');
    const start = Date.now();
    const r = await ping(a, ['-c', '2', '-i', '0.2', '-W', '1', '10.0.0.1']);
    const took = Date.now() - start;
    t.is(r.code, 1, r.stderr);
    t.regex(r.stdout, /\n--- 10\.0\.0\.1 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time \d+ms\n$/);
    t.notRegex(r.stdout, /rtt/);
    t.true(took < 8000, `gave up after -W (took ${took} ms)`);
  });
});

liveTest('ping: unreachable addresses are reported per probe and in the summary, never thrown', async (t) => {
  await withVethPair(async (a) => {
    // no route at all: sendto fails with ENETUNREACH
    const noRoute = await ping(a, ['-c', '2', '-i', '0.2', '-W', '1', '10.99.0.1']);
    t.is(noRoute.code, 1);
    t.regex(noRoute.stderr, /sendto: Network is unreachable \(icmp_seq=1\)/);
    t.regex(noRoute.stdout, /2 packets transmitted, 0 received, \+2 errors, 100% packet loss/);
    t.notRegex(noRoute.stderr, /at .*\.ts:\d+/, 'no stack trace');
    // on-link but nobody answers ARP: the kernel reports Destination Host Unreachable
    const noHost = await ping(a, ['-c', '1', '-W', '5', '10.0.0.77']);
    t.is(noHost.code, 1);
    t.regex(noHost.stdout, /^From 10\.0\.0\.2 icmp_seq=1 Destination Host Unreachable$/m);
    t.regex(noHost.stdout, /1 packets transmitted, 0 received, \+1 errors, 100% packet loss/);
  });
});

liveTest('ping: bad input exits 2 with a typed error line and sends nothing', async (t) => {
  await withVethPair(async (a) => {
    addObserver(a, { all: 'icmp type echo-request' });
    const cases: [string[], RegExp][] = [
      [['-m', '4294967296', '-c', '1', '10.0.0.1'], /MARK_RANGE -m: -m 4294967296 is outside 0\.\.0xffffffff/],
      [['-m', 'lots', '-c', '1', '10.0.0.1'], /INVALID_MARK -m/],
      [['-c', '0', '10.0.0.1'], /INVALID_OPTION -c/],
      [['-4', '-6', '10.0.0.1'], /INVALID_OPTION/],
      [['-6', '10.0.0.1'], /FAMILY_MISMATCH/],
      [['-c', '1'], /missing destination address/],
      [['--bogus', '10.0.0.1'], /INVALID_OPTION: Unknown option '--bogus'/],
      [['--netns', 'pm-does-not-exist', '10.0.0.1'], /INVALID_NETNS netns: netns "pm-does-not-exist"/],
    ];
    for (const [args, re] of cases) {
      const r = await ping(a, args);
      t.is(r.code, 2, args.join(' '));
      t.regex(r.stderr, re, args.join(' '));
      t.is(r.stdout, '', args.join(' '));
    }
    t.deepEqual(counters(a), { all: 0 });
  });
});

liveTest('ping: unprivileged, through a ping socket where net.ipv4.ping_group_range allows; -m then fails with EPERM and a clear hint', async (t) => {
  await withVethPair(async (a) => {
    const denied = await ping(a, ['-c', '1', '10.0.0.1'], true);
    t.is(denied.code, 2);
    t.regex(denied.stderr, /EPERM: cannot open an ICMP socket.*ping_group_range/);
    a.exec('/usr/sbin/sysctl', ['-qw', 'net.ipv4.ping_group_range=0 2147483647']);
    const ok = await ping(a, ['-c', '2', '-i', '0.2', '10.0.0.1'], true);
    t.is(ok.code, 0, ok.stderr);
    t.regex(ok.stdout, /64 bytes from 10\.0\.0\.1: icmp_seq=1 ttl=64 time=/);
    t.regex(ok.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
    const ok6 = await ping(a, ['-c', '1', 'fd00::1'], true);
    t.is(ok6.code, 0, ok6.stderr);
    const marked = await ping(a, ['-m', '1234', '-c', '1', '10.0.0.1'], true);
    t.is(marked.code, 2);
    t.regex(marked.stderr, /EPERM mark: cannot set mark 1234: setsockopt SO_MARK: Operation not permitted \(errno 1\) — setting a socket mark needs CAP_NET_ADMIN.*without -m, ping works through a ping socket/);
  });
});


liveTest('ping: without -c it runs until SIGINT, then prints the statistics and exits 0', async (t) => {
  await withVethPair(async (a) => {
    // `ip netns exec` execs node in place, so the signal reaches the ping process itself.
    const child = spawn(IP, ['netns', 'exec', a.name, process.execPath, '--import', 'tsx', PING_CLI, '-i', '0.2', '10.0.0.1'], {
      cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const exited = once(child, 'exit');
    while (!/icmp_seq=3 /.test(out)) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const [code] = await exited as [number | null];
    t.is(code, 0);
    // A probe sent just before the signal may still be unanswered, as with iputils.
    const m = /--- 10\.0\.0\.1 ping statistics ---\n(\d+) packets transmitted, (\d+) received, [\d.]+% packet loss, time \d+ms\nrtt /.exec(out);
    t.truthy(m, out);
    t.true(Number(m![2]) >= 3 && Number(m![1]) - Number(m![2]) <= 1);
  });
});
