/** pktmark/socket without root: input validation and the typed errors for sockets that have no fd. */
import dgram from 'node:dgram';
import net from 'node:net';
import test from 'ava';
import { PktmarkError, type ErrorCode } from '../../src/errors.js';
import {
  connectMarked, createMarkedDgram, getSocketMark, markedAgent, markedConnector, MarkedHttpAgent, MarkedHttpsAgent,
  parseMark, setSocketMark,
} from '../../src/socket.js';

function throwsCode(t: import('ava').ExecutionContext, fn: () => unknown, c: ErrorCode, field?: string): void {
  const e = t.throws(fn, { instanceOf: PktmarkError });
  t.is(e?.code, c);
  if (field !== undefined) t.is(e?.field, field);
}

test('parseMark: decimal and 0x-hex, the whole u32 range', (t) => {
  t.is(parseMark(1234), 1234);
  t.is(parseMark('1234'), 1234);
  t.is(parseMark('0x4d2'), 1234);
  t.is(parseMark('0XDEADBEEF'), 0xdeadbeef);
  t.is(parseMark(0), 0);
  t.is(parseMark(0xffffffff), 0xffffffff);
});

test('parseMark: out of range is MARK_RANGE, garbage is INVALID_MARK, missing is INVALID_MARK', (t) => {
  throwsCode(t, () => parseMark(0x100000000), 'MARK_RANGE', 'mark');
  throwsCode(t, () => parseMark(-1), 'MARK_RANGE', 'mark');
  throwsCode(t, () => parseMark('4294967296'), 'MARK_RANGE', 'mark');
  throwsCode(t, () => parseMark('12ab'), 'INVALID_MARK', 'mark');
  throwsCode(t, () => parseMark(1.5), 'INVALID_MARK', 'mark');
  throwsCode(t, () => parseMark(undefined), 'INVALID_MARK', 'mark');
  throwsCode(t, () => parseMark({}), 'INVALID_MARK', 'mark');
});

test('setSocketMark/getSocketMark: a socket without fd is CLOSED (never a crash); non-sockets are INVALID_ARGUMENT', (t) => {
  const s = new net.Socket();
  throwsCode(t, () => getSocketMark(s), 'CLOSED', 'socket');
  throwsCode(t, () => setSocketMark(s, 1), 'CLOSED', 'socket');
  throwsCode(t, () => getSocketMark(net.createServer()), 'CLOSED', 'socket');
  const u = dgram.createSocket('udp4');
  throwsCode(t, () => getSocketMark(u), 'CLOSED', 'socket');
  u.close();
  throwsCode(t, () => getSocketMark(u), 'CLOSED', 'socket');
  throwsCode(t, () => getSocketMark(-1), 'INVALID_ARGUMENT', 'socket');
  throwsCode(t, () => getSocketMark(1.5), 'INVALID_ARGUMENT', 'socket');
  throwsCode(t, () => getSocketMark({} as net.Socket), 'INVALID_ARGUMENT', 'socket');
});

test('setSocketMark validates the mark before touching the socket', (t) => {
  throwsCode(t, () => setSocketMark(new net.Socket(), 2 ** 32), 'MARK_RANGE');
  throwsCode(t, () => setSocketMark(new net.Socket(), 'x'), 'INVALID_MARK');
});

test('connectMarked, markedAgent, markedConnector, createMarkedDgram: a bad mark throws at once, nothing is opened', (t) => {
  throwsCode(t, () => connectMarked({ host: '127.0.0.1', port: 1, mark: 2 ** 32 }), 'MARK_RANGE');
  throwsCode(t, () => connectMarked({ host: '127.0.0.1', port: 1, mark: 'nope' }), 'INVALID_MARK');
  throwsCode(t, () => markedAgent({ mark: -5 }), 'MARK_RANGE');
  throwsCode(t, () => markedAgent({ mark: 1, protocol: 'ftp:' as 'http:' }), 'INVALID_OPTION', 'protocol');
  throwsCode(t, () => markedConnector({ mark: '0x1ffffffff' }), 'MARK_RANGE');
  throwsCode(t, () => createMarkedDgram({ type: 'udp4', mark: 2 ** 40 }), 'MARK_RANGE');
});

test('connectMarked refuses unix sockets: SO_MARK is about IP packets', (t) => {
  throwsCode(t, () => connectMarked({ path: '/tmp/x', mark: 1 } as unknown as Parameters<typeof connectMarked>[0]), 'INVALID_ARGUMENT', 'path');
});

test('markedAgent builds an http.Agent or an https.Agent carrying the parsed mark', (t) => {
  const h = markedAgent({ mark: '0x10', keepAlive: true });
  t.true(h instanceof MarkedHttpAgent);
  t.is(h.mark, 16);
  const s = markedAgent({ mark: 7, protocol: 'https:' });
  t.true(s instanceof MarkedHttpsAgent);
  t.is(s.mark, 7);
  h.destroy();
  s.destroy();
});
