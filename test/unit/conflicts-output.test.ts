/**
 * The scan's bounds and its printing: a kernel that never answers is cut off at the deadline
 * (reported, not hung); a transport that cannot open is unreadable with its errno; table cells read
 * back from the kernel are escaped; nft register tracking through REG32 aliases and constants.
 */
import test from 'ava';
import { scan } from '../../src/conflicts/scan.js';
import { printConflicts, conflictsJson } from '../../src/cli/commands/conflicts.js';
import { ruleMarkUses } from '../../src/conflicts/nft-rule.js';
import { PktmarkError } from '../../src/errors.js';
import { FakeTransport } from '../../src/transport/fake.js';
import type { NetlinkProtocol, Transport } from '../../src/transport/transport.js';
import { NFT_META_MARK } from '../../codecs/nftables/expr/meta.js';

const le = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };

test('a kernel that never answers: the scan returns at its deadline and says which sources it could not finish', async (t) => {
  const hang = (p: NetlinkProtocol): Transport => new FakeTransport(p, () => new Promise(() => undefined));
  const started = Date.now();
  const r = await scan({ transport: async (p) => hang(p), table: 'pktmark' }, { timeoutMs: 150, proc: { pids: () => [], fdLinks: () => [], comm: () => undefined } });
  t.true(Date.now() - started < 2000);
  t.deepEqual(r.users, []);
  t.true(r.unreadable.some((u) => u.source === 'nft' && u.reason === 'deadline'), JSON.stringify(r.unreadable));
});

test('a protocol the kernel lacks is unreadable with its errno; the other sources still run', async (t) => {
  const r = await scan({
    transport: async (p) => {
      if (p === 6) throw new PktmarkError('SYSCALL', 'socket(AF_NETLINK): EPROTONOSUPPORT', { errno: 93 });
      return new FakeTransport(p, (reqs) => reqs.map(() => new Uint8Array(0)));
    },
    table: 'pktmark',
  }, { sources: ['xfrm'], timeoutMs: 500 });
  t.deepEqual(r.unreadable.map((u) => [u.source, u.reason]), [['xfrm', 'EPROTONOSUPPORT']]);
});

test('printing escapes control characters read back from the kernel; --json keeps them as data', (t) => {
  const out: string[] = [];
  const report = { users: [{ source: 'nft' as const, owner: 'table ip ev\x1b[2Jil', bits: 1, action: 'sets' as const, on: 'packet' as const, detail: 'x\ty' }], unreadable: [], elapsedMs: 1 };
  printConflicts(report, { out: (l) => out.push(l), err: () => undefined });
  t.false(out.join('\n').includes('\x1b'), out.join('\n'));
  t.false(out[1]!.includes('\t'));
  t.is((conflictsJson(report).users as { owner: string }[])[0]!.owner, 'table ip ev\x1b[2Jil');
});

test('register tracking: NFT_REG_1 and NFT_REG32_00 are one register; bitwise on a constant folds; a payload load clobbers', (t) => {
  const uses = ruleMarkUses([
    { kind: 'meta', key: NFT_META_MARK, dreg: 8 }, // REG32_00 = the first 4 bytes of REG_1
    { kind: 'cmp', sreg: 1, op: 0, data: le(5) },
    { kind: 'immediate', dreg: 9, value: le(0xf0) },
    { kind: 'bitwise', sreg: 9, dreg: 9, len: 4, mask: le(0x30), xor: le(0x1) },
    { kind: 'meta', key: NFT_META_MARK, sreg: 9 },
    { kind: 'payload', dreg: 1, base: 1, offset: 12, len: 4 } as never,
    { kind: 'meta', key: NFT_META_MARK, sreg: 1 },
  ]);
  t.deepEqual(uses.map((u) => [u.action, u.bits, u.values, u.text]), [
    ['matches', 0xffffffff, [5], 'meta mark == 0x5'],
    ['sets', 0xffffffff, [0x31], 'meta mark set 0x31'],
    ['sets', 0xffffffff, undefined, 'meta mark set <computed value>'],
  ]);
});
