import test from 'ava';
import { main } from '../../src/cli/main.js';

function io(): { io: { out: (s: string) => void; err: (s: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { io: { out: (s) => out.push(s), err: (s) => err.push(s) }, out, err };
}

test('pktmark marks lists who else uses the bits, with the registry attribution', async (t) => {
  const o = io();
  t.is(await main(['marks', '0x2000/0x2000'], o.io), 0);
  const text = o.out.join('\n');
  t.regex(text, /CNI portmap/);
  t.regex(text, /fwmark\/registry.*CC BY 4\.0/);
});

test('pktmark --json marks has the documented shape', async (t) => {
  const o = io();
  t.is(await main(['--json', 'marks', '0xca6c'], o.io), 0);
  const j = JSON.parse(o.out.join('')) as { mark: string; mask: string; conflicts: { software: string; kind: string; bits: string }[]; attribution: string };
  t.is(j.mark, '0x0000ca6c');
  t.is(j.mask, '0xffffffff');
  t.true(j.conflicts.some((c) => c.software.startsWith('WireGuard') && c.kind === 'value'));
  t.regex(j.attribution, /CC BY 4\.0/);
});

test('pktmark marks with a bad value exits 1 with a one-line error', async (t) => {
  const o = io();
  t.is(await main(['marks', '0x1g'], o.io), 1);
  t.is(o.err.length, 1);
  t.regex(o.err[0], /INVALID_MARK/);
});
