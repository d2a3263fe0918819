/**
 * `mark: auto` in a desired state, without root (test/helpers/nft-kernel.ts): a named rule's
 * mark is picked once, then kept by later applies even when the scan would now pick otherwise;
 * an unnamed auto rule and an offline (dry-run) apply are refused.
 */
import test from 'ava';
import { Marker } from '../../src/marker.js';
import { dryRunApply } from '../../src/apply/index.js';
import { ackFor, doneFor, FakeTransport, NETLINK_NETFILTER, type NetlinkProtocol, type Transport } from '../../src/testing/index.js';
import { NftKernel } from '../helpers/nft-kernel.js';

/** the apply tests' nf_tables (with generations); every other protocol answers empty dumps and acks */
const factory = (k: NftKernel) => (p: NetlinkProtocol): Transport => (p === NETLINK_NETFILTER ? k.transport
  : new FakeTransport(p, (reqs) => reqs.map((r) => (r.header.flags & 0x300 ? doneFor(r.header.seq) : ackFor(r)))));

test('apply: a named auto rule is picked once and kept across applies; two auto rules get different bits', async (t) => {
  const k = new NftKernel();
  const m = await Marker.open({ transport: factory(k) });
  const desired = { rules: [{ name: 'web', src: '10.0.0.1', mark: 'auto' }, { name: 'db', src: '10.0.0.2', mark: 'auto/0xff00' }] };
  const first = await m.apply(desired);
  t.is(first.added, 2);
  const picks = new Map(first.autoMarks!.map((a) => [a.name, a]));
  t.is(picks.get('web')!.how, 'picked');
  t.is(picks.get('db')!.mask & ~0xff00, 0, 'within its mask');
  t.is(picks.get('web')!.mask & picks.get('db')!.mask, 0, 'distinct bits');
  const again = await m.apply(desired);
  t.is(again.kept, 2, 'nothing changes on re-apply');
  t.is(again.added + again.replaced + again.removed, 0);
  t.deepEqual(again.autoMarks!.map((a) => [a.name, a.mark, a.how]), [['web', picks.get('web')!.mark, 'kept'], ['db', picks.get('db')!.mark, 'kept']]);
  // a content change elsewhere in the rule keeps the mark (replaced in place)
  const moved = await m.apply({ rules: [{ name: 'web', src: '10.0.0.9', mark: 'auto' }, desired.rules[1]!] });
  t.is(moved.replaced, 1);
  t.is(moved.autoMarks!.find((a) => a.name === 'web')!.mark, picks.get('web')!.mark);
  await m.close();
});

test('apply: auto needs a name, and a live scan (dry-run refuses it)', async (t) => {
  const k = new NftKernel();
  const m = await Marker.open({ transport: factory(k) });
  await t.throwsAsync(m.apply({ rules: [{ src: '10.0.0.1', mark: 'auto' }] }), { code: 'INVALID_MARK', message: /needs the rule to have a name/ } as never);
  await m.close();
  t.throws(() => dryRunApply({ rules: [{ name: 'x', src: '10.0.0.1', mark: 'auto' }] }, 'pktmark'), { code: 'INVALID_MARK', message: /live scan/ } as never);
});
