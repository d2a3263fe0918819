/** apply's tc/bpf/xdp half without a kernel: the ownership tag in the tc cookie, name hashing, and the diff. */
import test from 'ava';
import { ownerCookie, parseOwnerCookie } from '../../src/backends/tc/rule.js';
import { diffOthers, nameHash } from '../../src/apply/others.js';
import { desiredFromInput } from '../../src/apply/index.js';
import type { RuleRecord } from '../../src/backends/backend.js';
import { decodeConfigValue, encodeConfigValue } from '../../codecs/bpf/programs/config.js';

test('tc cookie: 8 bytes for add, 16 with apply\'s tag; both parse back; foreign 16-byte cookies are not ours', (t) => {
  t.is(ownerCookie(true, 'egress').length, 8);
  const c = ownerCookie(false, 'ingress', { nameHash: 0xdeadbeef });
  t.is(c.length, 16);
  t.deepEqual(parseOwnerCookie(c), { qdiscOwned: false, direction: 'ingress', applyTag: { nameHash: 0xdeadbeef } });
  t.deepEqual(parseOwnerCookie(ownerCookie(true, 'egress')), { qdiscOwned: true, direction: 'egress' });
  const foreign = c.slice(); foreign[8] = 0x62;
  t.is(parseOwnerCookie(foreign), undefined);
  t.is(parseOwnerCookie(c.subarray(0, 12)), undefined);
});

test('bpf config slot: the tag round-trips and is absent for add\'s rules', (t) => {
  const base = { mark: 5, mask: 0xffffffff, xor: false } as const;
  t.is(decodeConfigValue(encodeConfigValue({ ...base, applyTag: 0x01020304 })).spec?.applyTag, 0x01020304);
  t.is(decodeConfigValue(encodeConfigValue(base)).spec?.applyTag, undefined);
});

test('nameHash: FNV-1a, never 0 for a name, 0 for none', (t) => {
  t.is(nameHash(undefined), 0);
  t.is(nameHash(''), 0x811c9dc5);
  t.is(nameHash('a'), 0xe40c292c);
  t.not(nameHash('web'), nameHash('dns'));
});

test('diffOthers: names by hash, unnamed by content (prio the kernel chose aside), add\'s rules stay unless prune all', (t) => {
  const d = desiredFromInput([
    { name: 'dns', via: 'bpf', dev: 'va', dport: 53, proto: 'udp', mark: 6 },
    { via: 'bpf', dev: 'va', mark: 7 },
    { via: 'bpf', dev: 'va', mark: 8 },
  ]).rules;
  const rec = (id: string, mark: number, tag?: number, extra: Record<string, unknown> = {}): RuleRecord => ({
    id, via: 'bpf', packets: 0, bytes: 0, text: id,
    rule: { via: 'bpf', dev: 'va', direction: 'ingress', prio: 49152, mark, mask: 0xffffffff, ...extra } as RuleRecord['rule'],
    ...(tag !== undefined ? { applyTag: { nameHash: tag } } : {}),
  });
  const current = [
    rec('bpf:va:ingress:0', 5, nameHash('dns'), { proto: 17, dport: 53 }),
    rec('bpf:va:ingress:1', 7, 0),
    rec('bpf:va:ingress:2', 9, 0),
    rec('bpf:va:ingress:3', 8),
  ];
  const steps = diffOthers('bpf', d, current, true);
  t.deepEqual(steps.map((s) => [s.action, s.current?.id ?? null, s.desired?.index ?? null]), [
    ['replace', 'bpf:va:ingress:0', 0],
    ['keep', 'bpf:va:ingress:1', 1],
    ['add', null, 2],
    ['remove', 'bpf:va:ingress:2', null],
  ]);
  t.deepEqual(diffOthers('bpf', d, current, 'all').filter((s) => s.action === 'remove').map((s) => s.current!.id), ['bpf:va:ingress:2', 'bpf:va:ingress:3']);
  t.deepEqual(diffOthers('bpf', d, current, false).filter((s) => s.action === 'remove'), []);
});
