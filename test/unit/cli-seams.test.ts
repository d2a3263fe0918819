/**
 * The CLI's own logic without root: main(argv, io, { transport }) with pktmark/testing's fake
 * nf_tables. The iptables front's -A, -I N, -D (by spec and by number), -F and -L are checked
 * against the fake kernel's rule list, and the requests against their expected shape.
 */
import test from 'ava';
import { NLM_F_APPEND, NLM_F_ECHO } from '../../codecs/netlink/message.js';
import { decodeRule, NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { main } from '../../src/cli/main.js';
import { checkRequest, FakeNftKernel } from '../../src/testing/index.js';

async function run(k: FakeNftKernel, line: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const code = await main(line.split(' '), { out: (l) => out.push(l), err: (l) => err.push(l) }, { transport: k.factory });
  return { code, out, err };
}
const saddrs = (k: FakeNftKernel): string[] => k.rules.map((r) => r.comment ?? '');

test('iptables front without root: -A, -I N, -D by spec and number, -L and -F act on the right rules', async (t) => {
  const k = new FakeNftKernel();
  for (const n of [1, 2, 3]) t.is((await run(k, `iptables -t raw -A PREROUTING -s 10.0.0.${n} -m comment --comment r${n} -j MARK --set-mark ${n}`)).code, 0);
  t.deepEqual(saddrs(k), ['r1', 'r2', 'r3']);
  const appended = k.requests.filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE));
  for (const m of appended) checkRequest(m, { type: nftType(NFT_MSG_NEWRULE), flags: NLM_F_APPEND | NLM_F_ECHO });

  t.is((await run(k, 'iptables -t raw -I PREROUTING 2 -s 10.0.0.9 -m comment --comment r9 -j MARK --set-mark 9')).code, 0);
  t.deepEqual(saddrs(k), ['r1', 'r9', 'r2', 'r3'], '-I 2 lands before the second rule');
  const insert = k.requests.filter((m) => m.header.type === nftType(NFT_MSG_NEWRULE)).at(-1)!;
  checkRequest(insert, { notFlags: NLM_F_APPEND, attrs: [6 /* NFTA_RULE_POSITION */] });

  t.is((await run(k, 'iptables -t raw -D PREROUTING -s 10.0.0.2 -m comment --comment r2 -j MARK --set-mark 2')).code, 0);
  t.deepEqual(saddrs(k), ['r1', 'r9', 'r3'], '-D by spec removes exactly that rule');
  t.is((await run(k, 'iptables -t raw -D PREROUTING 1')).code, 0);
  t.deepEqual(saddrs(k), ['r9', 'r3'], '-D 1 removes the first');
  const del = k.requests.filter((m) => m.header.type === nftType(NFT_MSG_DELRULE)).at(-1)!;
  t.is(decodeRule(del).handle !== undefined, true);

  const listed = await run(k, 'iptables -t raw -L PREROUTING -n');
  t.is(listed.code, 0);
  t.true(listed.out.some((l) => l.includes('10.0.0.9')) && listed.out.some((l) => l.includes('10.0.0.3')), listed.out.join('\n'));

  t.is((await run(k, 'iptables -t raw -D PREROUTING 7')).code, 1, 'a rule number past the end is refused');
  t.deepEqual(saddrs(k), ['r9', 'r3'], 'and nothing changed');
  t.is((await run(k, 'iptables -t raw -F PREROUTING')).code, 0);
  t.deepEqual(saddrs(k), []);
});

test('a kernel refusal through the fake reaches the CLI as one error line and exit 1; nothing applied', async (t) => {
  const k = new FakeNftKernel();
  k.failRule = { index: 0, errno: 22, message: 'injected refusal' };
  const r = await run(k, 'add --src 10.0.0.1 --mark 1');
  t.is(r.code, 1);
  t.is(r.err.length, 1);
  t.regex(r.err[0], /KERNEL.*injected refusal/);
  t.deepEqual(k.rules, []);
  t.deepEqual(k.tables, []);
});
