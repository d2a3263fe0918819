import test from 'ava';
import { markConflicts, REGISTRY_ATTRIBUTION } from '../../src/registry/index.js';

test('a whole 0xdeadbeef mark overlaps the bitwise users and matches ipftrace2’s convention', (t) => {
  const c = markConflicts(0xdeadbeef);
  const names = c.map((x) => x.software);
  t.true(names.includes('Cilium'));
  t.true(names.includes('Calico (Felix)'));
  t.true(names.some((n) => n.startsWith('ipftrace2')));
  t.is(c.find((x) => x.software === 'Calico (Felix)')?.bits, 0xffff0000);
});

test('a masked mark only reports owners of the bits it changes', (t) => {
  const c = markConflicts(0x2000, 0x2000);
  t.deepEqual(c.filter((x) => x.kind === 'bits').map((x) => x.software).sort(), ['CNI portmap plugin (containernetworking/plugins)'].sort());
  t.deepEqual(markConflicts(0x0, 0x0), []);
});

test('values: Istio’s 0x539 and WireGuard’s 0xca6c are recognised', (t) => {
  t.true(markConflicts(0x539, 0xffffffff).some((x) => x.software === 'Istio' && x.kind === 'value'));
  t.true(markConflicts(51820).some((x) => x.software.startsWith('WireGuard') && x.kind === 'value'));
});

test('the attribution names the source and licence', (t) => {
  t.regex(REGISTRY_ATTRIBUTION, /fwmark\/registry.*CC BY 4\.0/);
});

test('masked values are bit claims; whole-mark values only clash with whole-mark rules', (t) => {
  const istio = markConflicts(0x10, 0xf0).find((x) => x.software === 'Istio');
  t.is(istio?.kind, 'bits');
  t.is(istio?.bits, 0xf0);
  t.false(markConflicts(0x2000, 0x2000).some((x) => x.software.startsWith('ipftrace2')), 'a one-bit change is not "the value 0xdeadbeef"');
  t.true(markConflicts(0x100).some((x) => x.software.startsWith('Docker') && x.kind === 'value'), 'Docker Swarm: 0x100 and up');
});

test('an xor mark also changes the value bits outside its mask', (t) => {
  t.true(markConflicts(0x2000, 0x0f).some((x) => x.software.startsWith('CNI portmap')));
});
