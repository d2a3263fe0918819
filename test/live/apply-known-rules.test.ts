/**
 * apply's read of its table recognises the rules it would send unchanged by their bytes
 * (src/apply/known-rules.ts) instead of decoding them. On the real kernel, for random rules of
 * every shape, the records it makes that way are the records the full decode makes, and every
 * rule apply made with a whole mark is recognised; a rule changed by someone else is not.
 */
import fc from 'fast-check';
import { NETLINK_NETFILTER } from '../../src/transport/transport.js';
import { backendContext, Marker } from '../../src/marker.js';
import { desiredFromInput, type DesiredRuleInput } from '../../src/apply/index.js';
import { KnownRules } from '../../src/apply/known-rules.js';
import { readGeneration, readState, type CurrentRule } from '../../src/apply/state.js';
import { ruleKey } from '../../src/apply/diff.js';
import { FULL_MASK, type MarkRule } from '../../src/rule.js';
import { markRuleInput } from '../helpers/arbitraries.js';
import { liveTest, withNetns } from '../helpers/netns.js';

/** a record with its rule as its content key: the two reads must agree on everything */
const comparable = (c: CurrentRule): object => ({ ...c, rule: c.rule && ruleKey(c.rule) });

const extraShapes: DesiredRuleInput[] = [
  { src: '10.9.0.0/16', proto: 'tcp', dport: '1024-65535', mark: 5 },
  { proto: 'udp', dport: 53, mark: '0x10/0xff', comment: 'dns' },
  { dst: '2001:db8::/32', mark: 7, hook: 'output', name: 'six' },
];

liveTest('apply reads rules it knows by their bytes: the same records as the full decode, every unchanged rule recognised', async (t) => {
  await withNetns(async (ns) => {
    const m = await Marker.open({ netns: ns.name });
    try {
      const tr = await backendContext(m).transport(NETLINK_NETFILTER);
      await fc.assert(fc.asyncProperty(fc.array(markRuleInput, { maxLength: 12 }), fc.boolean(), async (inputs, named) => {
        const rules: DesiredRuleInput[] = [...inputs.map((r, i) => (named && i % 2 === 0 ? { ...r, name: `r${i}` } : r)), ...extraShapes];
        await m.apply({ rules }, { prune: 'all' });
        const desired = desiredFromInput({ rules });
        const known = new KnownRules(desired.rules, m.table);
        const generation = await readGeneration(tr);
        const slow = await readState(tr, m.table, generation);
        const fast = await readState(tr, m.table, generation, () => known);
        t.deepEqual(fast.rules.map(comparable), slow.rules.map(comparable));
        // recognised = its record holds the desired rule itself. A masked or xor mark and a prefix
        // are a bitwise, whose dump carries an NFTA_BITWISE_OP we do not send (5.6+): read the long way
        const full = (a: MarkRule['src']): boolean => !a || a.prefix === (a.family === 'ip' ? 32 : 128);
        const whole = desired.rules.filter((d) => d.rule.mask === FULL_MASK && !d.rule.xor && full(d.rule.src) && full(d.rule.dst));
        const missed = whole.filter((d) => !fast.rules.some((c) => c.rule === d.rule));
        t.deepEqual(missed.map((d) => d.rule), []);
      }), { numRuns: 25 });

      // another writer changes a kept rule's mark in place: its bytes no longer match, it is decoded
      await m.apply({ rules: [{ src: '10.1.1.1', mark: 1, name: 'one' }] }, { prune: 'all' });
      const [{ id }] = await m.list({ via: 'nft' });
      ns.nft('replace', 'rule', 'inet', m.table, 'prerouting', 'handle', id.split(':')[2], 'ip', 'saddr', '10.1.1.1', 'counter', 'meta', 'mark', 'set', '0x2', 'comment', '"x"');
      const desired = desiredFromInput({ rules: [{ src: '10.1.1.1', mark: 1, name: 'one' }] });
      const state = await readState(tr, m.table, await readGeneration(tr), () => new KnownRules(desired.rules, m.table));
      t.is(state.rules.length, 1);
      t.not(state.rules[0].rule, desired.rules[0].rule);
      t.is(state.rules[0].rule?.mark as number | undefined, 2);
      t.false(state.rules[0].managed);
    } finally {
      await m.close();
    }
  });
});
