/**
 * apply with tc-side backends on the real kernel (root): nft, bpf (cls_bpf) and xdp rules in one
 * desired file. Apply's own rules are found again by their tags (no state file), a second apply
 * changes nothing, a named bpf rule whose content changed is replaced, a rule dropped from the
 * file is pruned, rules made by `add` are left alone, and a failure in a later backend removes
 * what the earlier ones added — tc, nft and the bpf programs are as before.
 */
import { Marker } from '../../src/index.js';
import type { DesiredRuleInput } from '../../src/apply/index.js';
import { liveTest, withVethPair, type Netns } from '../helpers/netns.js';

const kernelState = (a: Netns): string => [
  a.nft('-j', 'list', 'ruleset'),
  a.tc('qdisc', 'show', 'dev', 'va'), a.tc('filter', 'show', 'dev', 'va', 'ingress'),
  a.ip('-d', 'link', 'show', 'va'), a.ip('-d', 'link', 'show', 'lo'),
].join('\n');

const file = (dnsMark: number, withXdp = true): DesiredRuleInput[] => [
  { name: 'web', src: '10.0.0.1', mark: 1 },
  { name: 'dns', via: 'bpf', dev: 'va', proto: 'udp', dport: 53, mark: dnsMark },
  ...(withXdp ? [{ via: 'xdp', dev: 'va', mark: 7 } as DesiredRuleInput] : []),
];

liveTest('apply manages bpf and xdp rules next to nft: tags find them again, a second apply changes nothing, a renamed content is replaced, dropped rules are pruned, add\'s rules stay', async (t) => {
  await withVethPair(async (a) => {
    const m = await Marker.open({ netns: a.name });
    try {
      const byAdd = await m.add({ via: 'bpf', dev: 'va', mark: 99, comment: 'made by add' });

      const first = await m.apply(file(5));
      t.like(first, { added: 3, removed: 0, kept: 0, sent: true });
      t.deepEqual(first.steps.map((s) => [s.action, s.chain.split(' ')[0], s.name ?? null]), [['add', 'prerouting', 'web'], ['add', 'bpf', 'dns'], ['add', 'xdp', null]]);
      const listed = await m.list();
      t.deepEqual(listed.map((r) => r.rule?.mark).sort((x, y) => x! - y!), [1, 5, 7, 99]);
      t.truthy(listed.find((r) => r.rule?.mark === 5)?.applyTag, 'the bpf rule carries apply\'s tag in its config slot');
      t.falsy(listed.find((r) => r.id === byAdd.id)?.applyTag, 'add\'s rule does not');

      const again = await m.apply(file(5));
      t.like(again, { added: 0, removed: 0, replaced: 0, kept: 3, sent: false });

      const plan = await m.apply(file(6), { plan: true });
      t.like(plan, { replaced: 1, kept: 2, sent: false });
      t.is((await m.list()).filter((r) => r.rule?.mark === 5).length, 1, 'a plan changes nothing');

      const changed = await m.apply(file(6));
      t.like(changed, { added: 0, replaced: 1, kept: 2, removed: 0, sent: true });
      const replaced = changed.steps.find((s) => s.action === 'replace')!;
      t.regex(replaced.reason ?? '', /replaces bpf:va:ingress:/);
      const marks = (await m.list()).map((r) => r.rule?.mark).sort((x, y) => x! - y!);
      t.deepEqual(marks, [1, 6, 7, 99], 'the old dns rule is gone, the new one in');

      const pruned = await m.apply(file(6, false));
      t.like(pruned, { removed: 1, kept: 2, sent: true });
      t.deepEqual(await m.list({ via: 'xdp' }), []);
      t.is(a.ip('link', 'show', 'va').includes('xdp'), false, 'the XDP program is detached');

      const empty = await m.apply([]);
      t.like(empty, { removed: 2, kept: 0 });
      t.deepEqual((await m.list()).map((r) => r.id), [byAdd.id], 'only the rule add made is left');
    } finally {
      await m.clear();
      await m.close();
    }
  });
});

liveTest('apply: a later backend refusing its rule undoes the earlier backends\' adds and sends no nft batch', async (t) => {
  await withVethPair(async (a) => {
    const m = await Marker.open({ netns: a.name });
    try {
      await m.apply([{ name: 'keep', src: '10.0.0.3', mark: 3 }]);
      const before = kernelState(a);
      // bpf goes in first, then xdp finds no such device: the bpf filter and its clsact must go
      // again, and the nft rule must never be sent
      const e = await t.throwsAsync(m.apply([
        { name: 'keep', src: '10.0.0.3', mark: 3 },
        { name: 'new', src: '10.0.0.1', mark: 1 },
        { via: 'bpf', dev: 'va', mark: 5 },
        { via: 'xdp', dev: 'nosuch0', mark: 7 },
      ]));
      t.regex(e!.message, /nosuch0/);
      t.is(kernelState(a), before, 'nft ruleset, qdiscs, filters and XDP as before');
      t.deepEqual((await m.list()).map((r) => r.rule?.mark), [3]);
    } finally {
      await m.clear();
      await m.close();
    }
  });
});
