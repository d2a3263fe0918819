/**
 * apply with a tc rule on whatever kernel runs it (the host here lacks act_skbedit; the test/vm
 * guest, Debian's 6.1, has it and runs this file too): with the action the filter carries apply's
 * 16-byte cookie, a second apply keeps it and a shorter file prunes it; without it the refusal
 * leaves the kernel exactly as before, the nft rule of the same file included.
 */
import { Marker } from '../../src/index.js';
import type { DesiredRuleInput } from '../../src/apply/index.js';
import { liveTest, withVethPair, type Netns } from '../helpers/netns.js';
import { describeFeatures, kernelHas } from '../helpers/kernel-features.js';

const kernelState = (a: Netns): string => [a.nft('-j', 'list', 'ruleset'), a.tc('qdisc', 'show', 'dev', 'va'), a.tc('filter', 'show', 'dev', 'va', 'ingress')].join('\n');

liveTest('apply with a tc rule, on any kernel: with act_skbedit it is tagged (16-byte cookie), kept and pruned; without, the refusal leaves nft as before', async (t) => {
  const skbedit = await kernelHas('act_skbedit');
  t.log(await describeFeatures('act_skbedit'));
  await withVethPair(async (a) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const desired: DesiredRuleInput[] = [{ name: 'web', src: '10.0.0.1', mark: 1 }, { name: 'tc1', via: 'tc', dev: 'va', src: '10.0.0.3', mark: 3 }];
      if (!skbedit) {
        const before = kernelState(a);
        await t.throwsAsync(m.apply(desired), { code: 'ACTION_UNAVAILABLE' });
        t.is(kernelState(a), before, 'the nft rule was not sent and no clsact was left');
        return;
      }
      t.like(await m.apply(desired), { added: 2, sent: true });
      const tc = await m.list({ via: 'tc' });
      t.is(tc.length, 1);
      t.truthy(tc[0].applyTag, 'the tc filter carries apply\'s tag');
      t.regex(a.tc('filter', 'show', 'dev', 'va', 'ingress'), /cookie 706b746d61726b0.61000000[0-9a-f]{8}/, 'a 16-byte cookie: pktmark, flags, a, the name hash');
      t.like(await m.apply(desired), { added: 0, kept: 2, sent: false });
      t.like(await m.apply(desired.slice(0, 1)), { removed: 1, kept: 1 });
      t.deepEqual(await m.list({ via: 'tc' }), []);
    } finally {
      await m.clear();
      await m.close();
    }
  });
});
