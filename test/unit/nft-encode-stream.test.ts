/**
 * encode() of a list validates and encodes each rule in one pass (backends/nft/add-stream.ts);
 * its bytes must be what normalizing every rule and then encodeAdd gives, and a bad rule must be
 * reported as normalizeRules reports it.
 */
import test from 'ava';
import fc from 'fast-check';
import { encode, normalizeRules } from '../../src/marker.js';
import { nftBackend } from '../../src/backends/nft/index.js';
import { PktmarkError } from '../../src/errors.js';
import type { MarkRuleInput } from '../../src/rule.js';
import { markRuleInput } from '../helpers/arbitraries.js';

const hex = (ms: Uint8Array[]): string[] => ms.map((m) => Buffer.from(m).toString('hex'));

/** The classic path: every rule normalized, then the backend's encodeAdd. */
function classic(inputs: readonly MarkRuleInput[]): string[] {
  let seq = 0;
  return hex(nftBackend.encodeAdd(normalizeRules(inputs), { table: 'pktmark', nextSeq: () => ++seq }));
}

const nftOnly = markRuleInput.filter((r) => r.via === undefined || r.via === 'nft').filter((r) => {
  try { return normalizeRules([r])[0].via === 'nft'; } catch { return false; }
});

test('property: encode() of a list equals normalize-all then encodeAdd (chains, user chains, port and address lists)', (t) => {
  fc.assert(fc.property(fc.array(nftOnly, { minLength: 1, maxLength: 12 }), (inputs) => {
    t.deepEqual(hex(encode(inputs)), classic(inputs));
  }), { numRuns: 300 });
});

test('a later rule in another chain moves the rules\' seqs behind the longer header; 20,000 rules span several buffers', (t) => {
  const inputs: MarkRuleInput[] = Array.from({ length: 20000 }, (_, i) => ({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mark: i % 3 ? 0xdeadbeef : i }));
  inputs[15000] = { src: '10.9.9.9', mark: 1, hook: 'output' };
  inputs[17000] = { table: 'mangle', chain: 'FOO', mark: 2 };
  const ours = encode(inputs);
  t.is(ours.length, inputs.length + 6);
  t.deepEqual(hex(ours), classic(inputs));
  t.true(new Set(ours.map((m) => m.buffer)).size > 2);
});

test('a bad rule in a list is named by its index, before any later rule and the table are looked at', (t) => {
  const inputs: MarkRuleInput[] = [{ src: '10.0.0.1', mark: 1 }, { src: '10.0.0.2', mark: 1 }, { src: 'nope', mark: 1 }, { dev: 'lo', mark: 1 }];
  const e = t.throws(() => encode(inputs, { table: '-bad' }), { instanceOf: PktmarkError });
  t.is(e?.field, '[2].src');
  t.is(e?.messageIndex, 2);
  const first = t.throws(() => encode([{ mark: 'x' }, { src: '1.1.1.1', mark: 1 }]), { instanceOf: PktmarkError });
  t.is(first?.field, '[0].mark');
});
