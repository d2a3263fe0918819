/** apply's bulk path (add's template encoder + userdata appended) is byte-identical to a full encode of each rule. */
import test from 'ava';
import fc from 'fast-check';
import { AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_ECHO, NLM_F_REQUEST } from '../../codecs/netlink/message.js';
import { NFPROTO_INET, NFT_MSG_NEWRULE, writeRule } from '../../codecs/nftables/messages.js';
import { encodeRuleUserdata } from '../../codecs/nftables/userdata.js';
import { encodeApplyBatch } from '../../src/apply/batch.js';
import { desiredFromInput, type DesiredRuleInput } from '../../src/apply/desired.js';
import { diff } from '../../src/apply/diff.js';
import { ruleToExprs } from '../../src/backends/nft/rule.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ruleArb = fc.record({
  src: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.1.0.0/16', '10.2.3.0/23', 'fd00::1', 'fd00::/64'),
  mark: fc.constantFrom(1, 0xdeadbeef, '0x10/0xf0'),
  comment: fc.option(fc.constantFrom('a', 'web traffic'), { nil: undefined }),
  hook: fc.constantFrom('prerouting', 'output'),
}, { requiredKeys: ['src', 'mark'] });

test('tail adds through the template = writeRule of the same rule with apply\'s userdata', (t) => {
  fc.assert(fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 12 }), (rs) => {
    const inputs: DesiredRuleInput[] = rs.map((r, i) => ({ ...r, ...(i % 3 === 0 ? { name: `n${i}` } : {}) }));
    const d = desiredFromInput(inputs);
    let seq = 0;
    const msgs = encodeApplyBatch(diff(d, []), 'pktmark', 'absent', 7, () => ++seq).batch.messages().filter((m) => m[4] === NFT_MSG_NEWRULE && m[5] === 10);
    const order = ['prerouting', 'output'].flatMap((h) => d.rules.filter((x) => (x.rule.hook ?? 'prerouting') === h));
    t.is(msgs.length, order.length);
    msgs.forEach((m, k) => {
      const x = order[k];
      const flags = new DataView(m.buffer, m.byteOffset).getUint16(6, true);
      const w = new AttributeWriter();
      const ud = encodeRuleUserdata({ ...(x.rule.comment !== undefined ? { comment: x.rule.comment } : {}), apply: true, ...(x.name !== undefined ? { name: x.name } : {}) });
      writeRule(w, NFT_MSG_NEWRULE, flags, new DataView(m.buffer, m.byteOffset).getUint32(8, true), {
        family: NFPROTO_INET, table: 'pktmark', chain: x.rule.hook ?? 'prerouting', exprs: ruleToExprs(x.rule).map((e) => e.expr), ...(ud ? { userdata: ud } : {}),
      });
      t.is(hex(m), hex(w.finish()));
      t.true((flags & (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND)) === (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND));
      void NLM_F_ECHO;
    });
  }), { numRuns: 300 });
});
