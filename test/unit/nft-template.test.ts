/**
 * The bulk encoder's templates must be invisible: a rule encoded by patching another rule's
 * bytes equals the same rule encoded in full through the expression codecs.
 */
import test from 'ava';
import fc from 'fast-check';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { nftType, NFT_MSG_NEWRULE } from '../../codecs/nftables/messages.js';
import { RuleEncoder } from '../../src/backends/nft/template.js';
import { type MarkRuleInput } from '../../src/rule.js';
import { normalizeRule } from '../../src/normalize.js';
import { markRuleInput } from '../helpers/arbitraries.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const TYPE = nftType(NFT_MSG_NEWRULE);

function encodeFresh(rule: ReturnType<typeof normalizeRule>, flags: number, seq: number): string {
  const w = new AttributeWriter();
  new RuleEncoder().write(w, rule, 'pktmark', flags, seq, TYPE);
  return hex(w.finish());
}

/** Same shape, other address bytes: every address octet replaced by a generated one. */
const withOtherAddresses = (input: MarkRuleInput, octets: number[]): MarkRuleInput => {
  let k = 0;
  const swap = (a: string | undefined): string | undefined => {
    if (a === undefined) return undefined;
    const [addr, prefix] = a.split('/');
    const other = addr.replace(/[0-9a-f]+/g, () => {
      const v = octets[k++ % octets.length];
      return a.includes(':') ? (v * 257).toString(16) : String(v);
    });
    return prefix === undefined ? other : `${other}/${prefix}`;
  };
  return { ...input, ...(typeof input.src === 'string' ? { src: swap(input.src) } : {}), ...(typeof input.dst === 'string' ? { dst: swap(input.dst) } : {}) };
};

test('property: a patched template equals a full encode, for every rule shape (other addresses, and another whole mark)', (t) => {
  fc.assert(fc.property(markRuleInput, fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (input, octets, seq, otherMark) => {
    const a = normalizeRule(input);
    const whole = a.mask === 0xffffffff && !a.xor && a.connmark === undefined && a.jump === undefined;
    // a whole mark is patched too (iptables-restore files give each line its own mark)
    const b = normalizeRule({ ...withOtherAddresses(input, octets), ...(whole ? { mark: otherMark } : {}) });
    const enc = new RuleEncoder();
    const w = new AttributeWriter();
    enc.write(w, a, 'pktmark', 0x0c05, 1, TYPE);
    const start = w.length;
    enc.write(w, b, 'pktmark', 0x0405, seq, TYPE);
    const patched = hex(w.finish().subarray(start));
    return patched === encodeFresh(b, 0x0405, seq);
  }), { numRuns: 2000 });
  t.pass();
});

test('10,000 /32 sources: every patched message equals its full encode', (t) => {
  const enc = new RuleEncoder();
  const w = new AttributeWriter();
  const bounds: [number, number][] = [];
  const rules = Array.from({ length: 10000 }, (_, i) => normalizeRule({ src: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, mark: 0xdeadbeef }));
  rules.forEach((r, i) => { const s = w.length; enc.write(w, r, 'pktmark', 0x0c01, i + 1, TYPE); bounds.push([s, w.length]); });
  const all = w.finish();
  for (const i of [0, 1, 2, 255, 256, 4097, 9999]) t.is(hex(all.subarray(...bounds[i])), encodeFresh(rules[i], 0x0c01, i + 1), `rule ${i}`);
});
