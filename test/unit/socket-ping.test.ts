/** The ping engine's pure parts: ICMP bytes, sockaddr, control messages, iputils-shaped text, arguments. */
import test from 'ava';
import fc from 'fast-check';
import { PktmarkError, type ErrorCode } from '../../src/errors.js';
import { parsePingArgs } from '../../src/cli/commands/ping.js';
import { formatEvent, formatHeader, formatRtt, formatStatistics, summarize } from '../../src/ping/format.js';
import {
  checksum, decodeIcmp, decodeSockaddr, describeError, echoPayload, encodeEchoRequest, encodeSockaddr, findCmsgInt, stripIPv4,
} from '../../src/ping/packet.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

test('checksum: RFC 1071 example and odd lengths', (t) => {
  // RFC 1071 §3 example bytes 00 01 f2 03 f4 f5 f6 f7: sum ddf2, checksum 220d
  t.is(checksum(hex('0001f203f4f5f6f7')), 0x220d);
  t.is(checksum(hex('01')), 0xfeff);
  t.is(checksum(new Uint8Array(0)), 0xffff);
});

test('encodeEchoRequest v4: type 8, id/seq big-endian, valid checksum, iputils-style payload', (t) => {
  const p = encodeEchoRequest(4, 0x1234, 1, echoPayload(56));
  t.is(p.length, 64);
  t.deepEqual([...p.subarray(0, 2)], [8, 0]);
  t.deepEqual([...p.subarray(4, 8)], [0x12, 0x34, 0x00, 0x01]);
  t.is(checksum(p), 0, 'a packet with its checksum sums to zero');
  t.deepEqual([...p.subarray(8, 12)], [8, 9, 10, 11]);
});

test('encodeEchoRequest v6: type 128, checksum left to the kernel', (t) => {
  const p = encodeEchoRequest(6, 7, 0x10001, new Uint8Array(4));
  t.deepEqual([...p], [128, 0, 0, 0, 0, 7, 0, 1, 0, 0, 0, 0]);
});

test('property: echo requests decode back to their id and seq with a zero checksum sum', (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 300 }), fc.constantFrom(4 as const, 6 as const), (id, seq, payload, v) => {
    const p = encodeEchoRequest(v, id, seq, payload);
    const m = decodeIcmp(v, p)!;
    if (v === 4 && checksum(p) !== 0) return false;
    return m.id === id && m.seq === seq && m.type === (v === 4 ? 8 : 128) && !m.error && m.length === p.length;
  }));
  t.pass();
});

test('property: the decoder never throws on random bytes', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(4 as const, 6 as const), (b, v) => {
    decodeIcmp(v, b);
    stripIPv4(b);
    decodeSockaddr(b, b.length);
    findCmsgInt(b, b.length, 0, 2);
    return true;
  }));
  t.pass();
});

test('decodeIcmp: a destination-unreachable error carries the id/seq of the quoted echo request', (t) => {
  const echo = encodeEchoRequest(4, 0xbeef, 3, echoPayload(8));
  const ip = new Uint8Array(20);
  ip[0] = 0x45; ip[9] = 1;
  const err = new Uint8Array([3, 1, 0, 0, 0, 0, 0, 0, ...ip, ...echo.subarray(0, 8)]);
  t.deepEqual(decodeIcmp(4, err), { type: 3, code: 1, id: 0xbeef, seq: 3, length: err.length, error: true });
  t.is(describeError(4, 3, 1), 'Destination Host Unreachable');
  t.is(describeError(6, 1, 3), 'Address unreachable');
  // an error about something that is not our echo is ignored
  const other = err.slice(); other[8 + 9] = 17;
  t.is(decodeIcmp(4, other), undefined);
  const v6 = new Uint8Array([1, 3, 0, 0, 0, 0, 0, 0, ...new Uint8Array(40).fill(0).map((_, i) => (i === 6 ? 58 : 0)), ...encodeEchoRequest(6, 9, 4, new Uint8Array(0))]);
  t.like(decodeIcmp(6, v6), { id: 9, seq: 4, error: true });
});

test('stripIPv4: TTL and payload after IHL words, options included', (t) => {
  const pkt = new Uint8Array(24 + 8);
  pkt[0] = 0x46; pkt[8] = 61; pkt[24] = 0;
  const r = stripIPv4(pkt)!;
  t.is(r.ttl, 61);
  t.is(r.payload.length, 8);
  t.is(stripIPv4(new Uint8Array(10)), undefined);
  t.is(stripIPv4(Uint8Array.of(0x65, ...new Uint8Array(30))), undefined);
});

test('sockaddr_in / sockaddr_in6 round trip', (t) => {
  const a4 = encodeSockaddr(4, '10.0.0.1');
  t.is(a4.length, 16);
  t.deepEqual([...a4.subarray(2, 8)], [0, 0, 10, 0, 0, 1]);
  t.is(decodeSockaddr(a4, 16), '10.0.0.1');
  const a6 = encodeSockaddr(6, 'fd00::1');
  t.is(a6.length, 28);
  t.is(decodeSockaddr(a6, 28), 'fd00::1');
  t.is(decodeSockaddr(a6, 1), undefined);
  t.throws(() => encodeSockaddr(4, '300.0.0.1'), { instanceOf: PktmarkError });
});

test('findCmsgInt: walks aligned cmsghdrs to the wanted level/type', (t) => {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  // first: level 1 type 29 (SO_TIMESTAMP-ish, 24 bytes), then level 41 type 52 (IPV6_HOPLIMIT) = 63
  v.setBigUint64(0, 24n, true); v.setInt32(8, 1, true); v.setInt32(12, 29, true);
  v.setBigUint64(24, 20n, true); v.setInt32(32, 41, true); v.setInt32(36, 52, true); v.setInt32(40, 63, true);
  t.is(findCmsgInt(b, 44, 41, 52), 63);
  t.is(findCmsgInt(b, 44, 0, 2), undefined);
  t.is(findCmsgInt(b, 0, 41, 52), undefined);
});

test('output text has the iputils shape', (t) => {
  t.is(formatHeader('10.0.0.1', '10.0.0.1', 4, 56), 'PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.');
  t.is(formatHeader('h', 'fd00::1', 6, 56), 'PING h (fd00::1) 56 data bytes');
  t.is(formatEvent({ kind: 'reply', seq: 2, bytes: 64, from: '10.0.0.1', ttl: 64, rttMs: 0.0451, duplicate: false }), '64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=0.045 ms');
  t.is(formatEvent({ kind: 'reply', seq: 2, bytes: 64, from: '10.0.0.1', ttl: 64, rttMs: 12.34, duplicate: true }), '64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=12.3 ms (DUP!)');
  t.is(formatEvent({ kind: 'icmp-error', seq: 1, from: '10.0.0.2', message: 'Destination Host Unreachable' }), 'From 10.0.0.2 icmp_seq=1 Destination Host Unreachable');
  t.deepEqual([formatRtt(0.0456), formatRtt(1.234), formatRtt(12.34), formatRtt(123.4)], ['0.046', '1.23', '12.3', '123']);
  t.deepEqual(formatStatistics('10.0.0.1', { transmitted: 3, received: 2, duplicates: 0, errors: 0, elapsedMs: 2003.4, rttsMs: [1, 2], socket: 'raw' }), [
    '', '--- 10.0.0.1 ping statistics ---', '3 packets transmitted, 2 received, 33.3333% packet loss, time 2003ms',
    'rtt min/avg/max/mdev = 1.000/1.500/2.000/0.500 ms',
  ]);
  t.deepEqual(formatStatistics('x', { transmitted: 2, received: 0, duplicates: 1, errors: 2, elapsedMs: 5, rttsMs: [], socket: 'dgram' }).slice(2), [
    '2 packets transmitted, 0 received, +1 duplicates, +2 errors, 100% packet loss, time 5ms',
  ]);
  t.is(summarize([]), undefined);
});

test('parsePingArgs: iputils flags, hex marks, defaults', (t) => {
  t.deepEqual(parsePingArgs(['-m', '0x4d2', '-c', '3', '-i', '0.2', '-W', '2', '-4', '--netns', 'blue', '10.0.0.1']), {
    host: '10.0.0.1', mark: 1234, count: 3, intervalMs: 200, timeoutMs: 2000, size: 56, version: 4, netns: 'blue',
  });
  t.deepEqual(parsePingArgs(['fd00::1']), { host: 'fd00::1', intervalMs: 1000, timeoutMs: 10000, size: 56 });
  t.deepEqual(parsePingArgs(['-m1234', '-6', 'h']), { host: 'h', mark: 1234, intervalMs: 1000, timeoutMs: 10000, size: 56, version: 6 });
  t.is(parsePingArgs(['-h']), 'help');
});

test('parsePingArgs: every bad input is a typed error naming the option', (t) => {
  const bad: [string[], ErrorCode, string | undefined][] = [
    [['-m', '4294967296', 'a'], 'MARK_RANGE', '-m'],
    [['-m', 'x', 'a'], 'INVALID_MARK', '-m'],
    [['-c', '0', 'a'], 'INVALID_OPTION', '-c'],
    [['-c', '1.5', 'a'], 'INVALID_OPTION', '-c'],
    [['-i', '0', 'a'], 'INVALID_OPTION', '-i'],
    [['-i', '-1', 'a'], 'INVALID_OPTION', undefined],
    [['-W', 'soon', 'a'], 'INVALID_OPTION', '-W'],
    [['-s', '70000', 'a'], 'INVALID_OPTION', '-s'],
    [['-4', '-6', 'a'], 'INVALID_OPTION', '-4/-6'],
    [[], 'INVALID_ARGUMENT', 'ADDR'],
    [['a', 'b'], 'INVALID_ARGUMENT', 'ADDR'],
    [['--what', 'a'], 'INVALID_OPTION', undefined],
  ];
  for (const [args, c, field] of bad) {
    const e = t.throws(() => parsePingArgs(args), { instanceOf: PktmarkError }, args.join(' '));
    t.is(e?.code, c, args.join(' '));
    t.is(e?.field, field, args.join(' '));
  }
});
