/**
 * Golden bytes for port lists through the backend (not the codecs alone): `dport: [80, 443]`
 * and `dport: ['1-1023', 8080]` must give the NEWSET, NEWSETELEM and NEWRULE that nft 1.0.6
 * sent for `tcp dport { … }` (fixtures/nft/set-anon-ports.json, set-anon-port-intervals.json,
 * made by fixtures/capture-nft-sets.sh), whole messages after zeroing seq and port id. The one
 * intended difference: the rule, alone in its batch, carries NLM_F_ECHO | NLM_F_ACK.
 */
import test from 'ava';
import { batchOf, loadFixture } from '../helpers/fixtures.js';
import { NLM_F_ACK, NLM_F_ECHO } from '../../codecs/netlink/message.js';
import { nftBackend } from '../../src/backends/nft/index.js';
import { exprsToRule } from '../../src/backends/nft/rule.js';
import { portListText } from '../../src/backends/nft/port-sets.js';
import { decodeRule } from '../../codecs/nftables/messages.js';
import { decodeSetElems } from '../../codecs/nftables/set.js';
import { parseMessages } from '../../codecs/netlink/message.js';
import { normalizeRule } from '../../src/normalize.js';
import type { MarkRuleInput } from '../../src/rule.js';

/** a set capture (schema 1): its one run's command and batch */
const fixture = (name: string): { command: readonly string[]; batch: string[] } => { const r = loadFixture('nft', name).runs[0]; return { command: r.command, batch: batchOf(r) }; };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const norm = (h: string): string => h.slice(0, 16) + '0'.repeat(16) + h.slice(32);
const typeOf = (h: string): string => h.slice(8, 12);
const flagsOf = (h: string): number => parseInt(h.slice(14, 16) + h.slice(12, 14), 16);
const withFlags = (h: string, f: number): string =>
  h.slice(0, 12) + (f & 0xff).toString(16).padStart(2, '0') + (f >> 8).toString(16).padStart(2, '0') + h.slice(16);
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

const CASES: readonly { fixture: string; input: MarkRuleInput; text: string }[] = [
  { fixture: 'set-anon-ports', input: { proto: 'tcp', dport: [80, 443], mark: 1 }, text: '80,443' },
  { fixture: 'set-anon-port-intervals', input: { proto: 'tcp', dport: ['1-1023', 8080], mark: 1 }, text: '1-1023,8080' },
];

for (const c of CASES) {
  test(`${c.fixture}: ${c.fixture === 'set-anon-ports' ? 'hash' : 'interval'} port list = ${fixture(c.fixture).command[1]}`, (t) => {
    const rule = normalizeRule(c.input);
    t.is(nftBackend.explain(rule, { table: 'pktmark' }), `nft ${fixture(c.fixture).command[1]}`);
    let seq = 0;
    const msgs = nftBackend.encodeAdd([rule], { table: 'pktmark', nextSeq: () => ++seq }).map(hex).map(norm);
    const want = fixture(c.fixture).batch.slice(1, 4).map(norm);
    const ours = msgs.filter((m) => ['090a', '0c0a', '060a'].includes(typeOf(m)));
    t.is(ours.length, 3, 'NEWSET, NEWSETELEM, NEWRULE');
    t.is(ours[0], want[0], 'NEWSET');
    t.is(ours[1], want[1], 'NEWSETELEM');
    t.is(flagsOf(ours[2]), flagsOf(want[2]) | NLM_F_ECHO | NLM_F_ACK);
    t.is(withFlags(ours[2], flagsOf(want[2])), want[2], 'NEWRULE');
    // and back: the rule's lookup plus the set's elements decode to the same MarkRule
    const r = decodeRule(parseMessages(bytes(want[2]))[0]);
    const elems = decodeSetElems(parseMessages(bytes(want[1]))[0]).elements;
    t.is(portListText(elems), c.text);
    const lookup = r.exprs.find((e) => e.kind === 'lookup');
    t.truthy(lookup);
    t.deepEqual(exprsToRule(r.exprs, 'prerouting', undefined, new Map([['__set%d', c.text]])), rule);
  });
}

test('a negated list is the lookup with NFT_LOOKUP_F_INV; two lists in one batch get set ids 1 and 2', (t) => {
  let seq = 0;
  const rules = [normalizeRule({ proto: 'udp', sport: '!53,5353', mark: 2 }), normalizeRule({ proto: 'tcp', dport: [80, 443], mark: 3 })];
  const msgs = nftBackend.encodeAdd(rules, { table: 'pktmark', nextSeq: () => ++seq });
  const decoded = msgs.flatMap((m) => parseMessages(m)).filter((m) => (m.header.type & 0xff) === 6).map(decodeRule);
  const lookups = decoded.map((r) => r.exprs.find((e) => e.kind === 'lookup'));
  t.like(lookups[0], { kind: 'lookup', setId: 1, flags: 1 });
  t.like(lookups[1], { kind: 'lookup', setId: 2 });
  t.is((lookups[1] as { flags?: number }).flags, undefined);
});
