/** Inputs the fuzzer found that broke a decoder, kept so each fix stays fixed. */
import test from 'ava';
import { decodeSockaddr, findCmsgInt } from '../../src/ping/packet.js';

test('findCmsgInt: a cmsg_len of 2^64-1 ends the walk instead of looping (it wrapped to a step of 0)', (t) => {
  const b = new Uint8Array(32).fill(0xff);
  t.is(findCmsgInt(b, b.length, 0, 2), undefined);
});

test('findCmsgInt: a control length past the buffer reads only the buffer', (t) => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setBigUint64(0, 16n, true);
  t.is(findCmsgInt(b, 4096, 0, 2), undefined);
});

test('findCmsgInt: a cmsg_len past the end is not followed', (t) => {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 40n, true); v.setInt32(8, 0, true); v.setInt32(12, 2, true); v.setInt32(16, 64, true);
  t.is(findCmsgInt(b, b.length, 0, 2), undefined);
  v.setBigUint64(0, 20n, true);
  t.is(findCmsgInt(b, b.length, 0, 2), 64);
});

test('decodeSockaddr: a name length longer than the buffer is clamped (was a DataView RangeError)', (t) => {
  t.is(decodeSockaddr(Uint8Array.from([7]), 7), undefined);
  t.is(decodeSockaddr(Uint8Array.from([2, 0, 0, 0, 10, 0, 0]), 16), undefined);
});
