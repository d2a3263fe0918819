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
