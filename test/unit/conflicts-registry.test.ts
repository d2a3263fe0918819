/**
 * The registry half of `conflicts`: markConflicts for the ranges of well-known users, and the
 * report's registry list with its CC BY 4.0 attribution.
 */
import test from 'ava';
import { markConflicts, REGISTRY_ATTRIBUTION } from '../../src/registry/index.js';
import { registryHalf } from '../../src/conflicts/scan.js';

const owners = (mark: number, mask?: number): string[] => markConflicts(mark, mask).map((c) => c.software);

test('registry lookups name Calico, Cilium, Istio, Tailscale and WireGuard for their ranges', (t) => {
  t.true(owners(0x10000, 0x10000).includes('Calico (Felix)'), 'Calico allocates from 0xffff0000');
  t.true(owners(0x0a00, 0x0f00).includes('Cilium'), 'Cilium MARK_MAGIC_PROXY_INGRESS under 0x0f00');
  t.false(owners(0x2000, 0x2000).includes('Cilium'), 'Cilium leaves bits 13-15 alone (mask 0xffff1fff)');
  t.true(owners(0x539, 0xfff).includes('Istio'), 'Istio 1337 under 0xfff');
  t.true(owners(0x40000, 0xff0000).includes('Tailscale'), 'Tailscale SubnetRouteMark');
  t.true(owners(0x80000, 0x80000).includes('Tailscale'), 'Tailscale bits 18-19');
  t.true(owners(0xca6c).some((s) => s.startsWith('WireGuard')), 'wg-quick fwmark 0xca6c, a whole value');
  t.false(owners(0xca6d).some((s) => s.startsWith('WireGuard')), 'a different whole value is not WireGuard\'s');
});

test('the report\'s registry half carries the attribution', (t) => {
  const r = registryHalf(0x4000, 0x4000);
  t.is(r.attribution, REGISTRY_ATTRIBUTION);
  t.regex(r.attribution, /CC BY 4\.0/);
  t.true(r.matches.some((c) => c.software.startsWith('Kubernetes')));
});
