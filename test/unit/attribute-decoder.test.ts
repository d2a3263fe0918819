/**
 * The one attribute decoder (codecs/netlink/attribute-decoder.ts): typed getters, the `extra`
 * capture that re-encodes byte for byte, and the sticky first error — and the tc codecs that
 * use it (police, skbedit, u32, bpf, filter, actions) refusing malformed runs with DECODE.
 */
import test from 'ava';
import fc from 'fast-check';
import { AttributeReader, AttributeWriter } from '../../codecs/netlink/attributes.js';
import { AttributeDecoder } from '../../codecs/netlink/attribute-decoder.js';
import { writeRaw } from '../../codecs/netlink/raw.js';
import { PktmarkError } from '../../src/errors.js';
import { decodeActions, encodeActions, police, skbedit, type TcAction } from '../../codecs/tc/actions/index.js';
import { TCA_POLICE_TBF } from '../../codecs/tc/actions/police.js';
import { TCA_SKBEDIT_MARK, TCA_SKBEDIT_PARMS } from '../../codecs/tc/actions/skbedit.js';
import { u32 as u32Cls, bpf as bpfCls } from '../../codecs/tc/classifiers/index.js';

const run = (fill: (w: AttributeWriter) => void): Uint8Array => { const w = new AttributeWriter(); fill(w); return w.finish(); };

test('getters read each type; keep() captures the rest, which re-encodes byte for byte', (t) => {
  const bytes = run((w) => { w.u32(1, 7); w.string(2, 'eth0'); w.bytes(9, new Uint8Array([1, 2, 3])); w.nested(10, (w) => w.u8(1, 5), true); w.u64(3, 5n); });
  const d = new AttributeDecoder(new AttributeReader(bytes));
  const seen: Array<number | string | bigint> = [];
  for (const type of d) {
    if (type === 1) seen.push(d.u32());
    else if (type === 2) seen.push(d.string());
    else if (type === 3) seen.push(d.u64());
    else d.keep();
  }
  d.finish();
  t.deepEqual(seen, [7, 'eth0', 5n]);
  t.deepEqual(d.extra.map((x) => [x.type, x.nested]), [[9, false], [10, true]]);
  const again = run((w) => { for (const x of d.extra) writeRaw(w, x); });
  t.deepEqual(again, run((w) => { w.bytes(9, new Uint8Array([1, 2, 3])); w.nested(10, (w) => w.u8(1, 5), true); }));
});

test('the first error is sticky: iteration stops, later getters return zero, finish() throws it with its offset', (t) => {
  // a 2-byte payload where a u32 is expected, then attributes that must not be visited
  const bytes = run((w) => { w.u32(1, 1); w.u16(2, 9); w.u32(3, 3); w.u32(4, 4); });
  const d = new AttributeDecoder(new AttributeReader(bytes, 100));
  const visited: number[] = [];
  let afterError = -1;
  for (const type of d) {
    visited.push(type);
    const v = d.u32();
    if (type === 2) afterError = d.u32();
    void v;
  }
  t.deepEqual(visited, [1, 2]);
  t.is(afterError, 0);
  const e = t.throws(() => d.finish(), { instanceOf: PktmarkError });
  t.is(e.code, 'DECODE');
  t.is(e.offset, 108, 'the offset of the short attribute, absolute');
  t.is(d.error, e);
});

test('a truncated header or a length past the end ends the loop without throwing inside it', (t) => {
  for (const bytes of [new Uint8Array([8, 0, 1, 0, 1, 0]), new Uint8Array([40, 0, 1, 0, 0, 0, 0, 0]), new Uint8Array([2, 0, 1, 0])]) {
    const d = new AttributeDecoder(new AttributeReader(bytes));
    t.notThrows(() => { for (const _ of d) d.u32(); });
    t.throws(() => d.finish(), { instanceOf: PktmarkError, message: /attribute/ });
  }
});

test('require() records a missing attribute; a nested decoder\'s error becomes the outer one', (t) => {
  const d = new AttributeDecoder(new AttributeReader(new Uint8Array(0), 40));
  t.false(d.require(undefined, 'thing without TCA_X'));
  t.throws(() => d.finish(), { instanceOf: PktmarkError, message: /without TCA_X at byte 40/ });

  const outer = run((w) => w.nested(1, (w) => w.u16(1, 2), true));
  const o = new AttributeDecoder(new AttributeReader(outer));
  for (const _ of o) o.nested((r) => { const i = new AttributeDecoder(r); for (const _t of i) i.u32(); i.finish(); return 1; });
  t.throws(() => o.finish(), { instanceOf: PktmarkError, message: /u32 needs 4 bytes/ });
});

test('a codec bug (not a PktmarkError) is not swallowed as bad input', (t) => {
  const d = new AttributeDecoder(new AttributeReader(run((w) => w.u32(1, 1))));
  t.throws(() => { for (const _ of d) d.payload(() => { throw new TypeError('bug'); }); }, { instanceOf: TypeError });
});

test('police and skbedit: a missing parms/tbf or a short struct is DECODE, never a RangeError', (t) => {
  t.throws(() => skbedit.decode(new AttributeReader(run((w) => w.u32(TCA_SKBEDIT_MARK, 1)))), { instanceOf: PktmarkError, message: /without TCA_SKBEDIT_PARMS/ });
  t.throws(() => skbedit.decode(new AttributeReader(run((w) => w.bytes(TCA_SKBEDIT_PARMS, new Uint8Array(8))))), { instanceOf: PktmarkError, message: /tc_skbedit needs 20 bytes/ });
  t.throws(() => police.decode(new AttributeReader(run((w) => w.bytes(TCA_POLICE_TBF, new Uint8Array(10))))), { instanceOf: PktmarkError, message: /tc_police needs 56 bytes/ });
});

test('every tc decoder on random bytes: a value or a PktmarkError, nothing else', (t) => {
  const decoders: Array<(r: AttributeReader) => unknown> = [skbedit.decode, police.decode, u32Cls.decode, bpfCls.decode, decodeActions];
  fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: 0, max: decoders.length - 1 }), (bytes, k) => {
    try { decoders[k](new AttributeReader(bytes)); } catch (e) { if (!(e instanceof PktmarkError)) throw e; }
  }), { numRuns: 3000, seed: 14 });
  t.pass();
});

test('actions round-trip through the decoder with unknown envelope attributes kept', (t) => {
  const actions: TcAction[] = [
    { order: 1, options: { kind: 'skbedit', parms: { index: 0, capab: 0, action: 3, refcnt: 0, bindcnt: 0 }, mark: 5, mask: 0xff, extra: [] }, index: 4, extra: [{ type: 9, nested: false, data: new Uint8Array([1, 0, 0, 0]) }] },
    { order: 2, options: { kind: 'raw', name: 'gact', data: new Uint8Array([8, 0, 1, 0, 0, 0, 0, 0]) } },
  ];
  const bytes = run((w) => encodeActions(w, actions));
  const back = decodeActions(new AttributeReader(bytes));
  t.deepEqual(back, actions);
  t.deepEqual(run((w) => encodeActions(w, back)), bytes);
});
