/**
 * SO_MARK on the wire: an observer `meta mark 1234 counter` in the sending namespace's output
 * hook counts exactly the packets of the marked sockets (ping, connectMarked, markedAgent, fetch
 * with markedConnector, createMarkedDgram) and none of the unmarked ones sent alongside.
 * The mark is per namespace (cleared when crossing the veth), so it is observed where it was set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveTest, run, withVethPair } from '../helpers/netns.js';
import { addObserver, counters, runNode, startPeer, CHILD } from './socket-helpers.js';

const MARKED_TCP = { 9000: 'tcp-marked 10.0.0.1', 9002: 'tcp-marked fd00::1', 9004: 'tcp-marked-lookup peer.test 10.0.0.1', 8080: 'http-marked', 8082: 'fetch-marked', 8083: 'undici-fetch-marked' } as const;
const PLAIN_TCP = [9001, 8081] as const;

function observerRules(): Record<string, string> {
  const r: Record<string, string> = { marked: 'meta mark 1234' };
  for (const p of [...Object.keys(MARKED_TCP).map(Number), ...PLAIN_TCP]) {
    r[`tcp/${p} all`] = `tcp dport ${p}`;
    r[`tcp/${p} marked`] = `tcp dport ${p} meta mark 1234`;
    r[`tcp/${p} syn`] = `tcp dport ${p} tcp flags & (syn|ack) == syn`;
    r[`tcp/${p} syn marked`] = `tcp dport ${p} tcp flags & (syn|ack) == syn meta mark 1234`;
  }
  for (const p of [9100, 9101]) {
    r[`udp/${p} all`] = `udp dport ${p}`;
    r[`udp/${p} marked`] = `udp dport ${p} meta mark 1234`;
  }
  r['ping all'] = 'icmp type echo-request';
  r['ping marked'] = 'icmp type echo-request meta mark 1234';
  return r;
}

liveTest('packets: meta mark 1234 counts exactly the packets of ping -m, connectMarked, markedAgent, fetch connector and marked UDP; unmarked traffic is not counted', async (t) => {
  await withVethPair(async (a, b) => {
    addObserver(a, observerRules());
    const stop = await startPeer(b, [9000, 9001, 9002, 9004, 8080, 8081, 8082, 8083, 9100, 9101]);
    try {
      const r = await runNode(a, CHILD, [
        'ping', '-m', '1234', '-c', '3', '-i', '0.2', '10.0.0.1', '--',
        'ping', '-c', '2', '-i', '0.2', '10.0.0.1', '--',
        'tcp-marked', '10.0.0.1', '9000',
        'tcp-plain', '10.0.0.1', '9001',
        'tcp-marked', 'fd00::1', '9002',
        'tcp-marked-lookup', 'peer.test', '10.0.0.1', '9004',
        'http-marked', 'http://10.0.0.1:8080/',
        'http-plain', 'http://10.0.0.1:8081/',
        'fetch-marked', 'http://10.0.0.1:8082/',
        'undici-fetch-marked', 'http://[fd00::1]:8083/',
        'udp-marked', '10.0.0.1', '9100',
        'udp-plain', '10.0.0.1', '9101',
      ]);
      t.is(r.code, 0, r.stderr);
      const byStep = r.lines;
      t.log(byStep.map((l) => JSON.stringify(l)).join('\n'));
      t.false(byStep.some((l) => 'error' in l), 'no step failed');
      const pings = byStep.filter((l) => l.step === 'ping');
      t.deepEqual(pings.map((p) => p.code), [0, 0]);
      t.regex((pings[0]!.lines as string[]).join('\n'), /3 packets transmitted, 3 received, 0% packet loss/);
      for (const l of byStep.filter((x) => String(x.step).startsWith('tcp-'))) {
        t.is(l.echoed, 'hello', `${l.step} ${l.host} echoed`);
        t.is(l.mark, l.step === 'tcp-plain' ? 0 : 1234, `${l.step} ${l.host} getSocketMark`);
      }
      for (const l of byStep.filter((x) => String(x.step).includes('http') || String(x.step).includes('fetch'))) {
        t.regex(String(l.body), /^ok 80\d\d$/, `${l.step} body`);
      }
      t.deepEqual(byStep.filter((x) => String(x.step).startsWith('udp')).map((x) => x.mark), [1234, 0]);
    } finally {
      stop();
    }
    const c = counters(a);
    t.log(JSON.stringify(c, null, 1));
    t.is(c['ping marked'], 3, 'ping -m 1234 -c 3: exactly 3 marked echo requests');
    t.is(c['ping all'], 5, 'the unmarked ping sent 2 more, not counted as marked');
    let markedTotal = 3;
    for (const p of Object.keys(MARKED_TCP)) {
      t.true(c[`tcp/${p} all`]! >= 4, `tcp/${p}: SYN, ACK, data, FIN at least`);
      t.is(c[`tcp/${p} marked`], c[`tcp/${p} all`], `tcp/${p} (${MARKED_TCP[Number(p) as keyof typeof MARKED_TCP]}): every packet marked`);
      t.is(c[`tcp/${p} syn marked`], 1, `tcp/${p}: the SYN carried the mark`);
      markedTotal += c[`tcp/${p} marked`]!;
    }
    for (const p of PLAIN_TCP) {
      t.true(c[`tcp/${p} all`]! >= 4);
      t.is(c[`tcp/${p} syn`], 1);
      t.is(c[`tcp/${p} marked`], 0, `tcp/${p} (unmarked) not counted`);
    }
    t.is(c['udp/9100 marked'], 3);
    t.is(c['udp/9100 all'], 3);
    t.is(c['udp/9101 all'], 3);
    t.is(c['udp/9101 marked'], 0);
    markedTotal += 3;
    t.is(c.marked, markedTotal, 'nothing else in the namespace carried mark 1234');
  });
});

liveTest('packets: ip rule fwmark 1234 lookup 100 sends the marked connection (and ping -m) out the other veth; unmarked traffic keeps the main route', async (t) => {
  await withVethPair(async (a, b) => {
    // A second link between the same namespaces: vc (a, 10.9.0.2) <-> vd (b, 10.9.0.1).
    a.exec('/usr/sbin/ip', ['link', 'add', 'vc', 'type', 'veth', 'peer', 'name', 'vd', 'netns', b.name]);
    a.ip('addr', 'add', '10.9.0.2/24', 'dev', 'vc');
    a.ip('link', 'set', 'vc', 'up');
    b.ip('addr', 'add', '10.9.0.1/24', 'dev', 'vd');
    b.ip('link', 'set', 'vd', 'up');
    b.ip('addr', 'add', '10.77.0.1/32', 'dev', 'lo');
    a.ip('route', 'add', '10.77.0.1/32', 'via', '10.0.0.1', 'dev', 'va');
    a.ip('route', 'add', 'default', 'via', '10.9.0.1', 'dev', 'vc', 'table', '100');
    a.ip('rule', 'add', 'fwmark', '1234', 'lookup', '100');
    // Replies to the marked connection come back on vc, which the main table would not choose:
    // strict reverse-path filtering would drop them.
    a.exec('/usr/sbin/sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.vc.rp_filter=0', 'net.ipv4.conf.va.rp_filter=0']);
    addObserver(a, {
      'va marked-port': 'oifname "va" tcp dport 9000', 'vc marked-port': 'oifname "vc" tcp dport 9000',
      'va plain-port': 'oifname "va" tcp dport 9001', 'vc plain-port': 'oifname "vc" tcp dport 9001',
      'va ping': 'oifname "va" icmp type echo-request', 'vc ping': 'oifname "vc" icmp type echo-request',
    });
    const stop = await startPeer(b, [9000, 9001]);
    try {
      const r = await runNode(a, CHILD, [
        'tcp-marked', '10.77.0.1', '9000', 'tcp-plain', '10.77.0.1', '9001',
        'ping', '-m', '1234', '-c', '2', '-i', '0.2', '10.77.0.1', '--', 'ping', '-c', '1', '10.77.0.1', '--',
      ]);
      t.is(r.code, 0, r.stderr);
      t.log(r.lines.map((l) => JSON.stringify(l)).join('\n'));
      t.deepEqual(r.lines.slice(0, 2).map((l) => l.echoed), ['hello', 'hello'], 'both connections worked, each over its own link');
      t.deepEqual(r.lines.slice(2).map((l) => l.code), [0, 0]);
    } finally {
      stop();
    }
    const c = counters(a);
    t.log(JSON.stringify(c));
    t.true(c['vc marked-port']! >= 4, 'marked connection left through vc (table 100)');
    t.is(c['va marked-port'], 0, 'not one packet of it through va');
    t.true(c['va plain-port']! >= 4, 'unmarked connection left through va (main table)');
    t.is(c['vc plain-port'], 0);
    t.is(c['vc ping'], 2);
    t.is(c['va ping'], 1);
  });
});

liveTest('packets: HTTPS through markedAgent({ protocol: "https:" }) and fetch over TLS with markedConnector are marked from the SYN on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pktmark-tls-'));
  try {
    const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
    run('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', key, '-out', cert, '-subj', '/CN=peer.test', '-addext', 'subjectAltName=IP:10.0.0.1,IP:fd00::1']);
    await withVethPair(async (a, b) => {
      const rules: Record<string, string> = {};
      for (const p of [8443, 8444]) {
        rules[`${p} all`] = `tcp dport ${p}`;
        rules[`${p} marked`] = `tcp dport ${p} meta mark 1234`;
        rules[`${p} syn marked`] = `tcp dport ${p} tcp flags & (syn|ack) == syn meta mark 1234`;
      }
      addObserver(a, rules);
      const stop = await startPeer(b, [8443, 8444], { PKTMARK_TLS_KEY: key, PKTMARK_TLS_CERT: cert });
      try {
        const r = await runNode(a, CHILD, ['https-marked', 'https://10.0.0.1:8443/', cert, 'fetch-marked-tls', 'https://[fd00::1]:8444/', cert]);
        t.is(r.code, 0, r.stderr);
        t.deepEqual(r.lines, [
          { step: 'https-marked', body: 'ok 8443', mark: 1234 },
          { step: 'fetch-marked-tls', status: 200, body: 'ok 8444' },
        ]);
      } finally {
        stop();
      }
      const c = counters(a);
      t.log(JSON.stringify(c));
      for (const p of [8443, 8444]) {
        t.true(c[`${p} all`]! >= 5, `${p}: handshake and request`);
        t.is(c[`${p} marked`], c[`${p} all`], `${p}: every packet marked`);
        t.is(c[`${p} syn marked`], 1);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
