/** `ipft-args` (issue 12 part 4): ipftrace2's -m/--mask for a rule or a mark, always 0x-hex. */
import test from 'ava';
import { ipftArgs, normalizeRule, PktmarkError } from '../../src/index.js';
import { ipftArgsOrNull } from '../../src/ipft.js';
import { ruleJson } from '../../src/cli/output.js';
import { main } from '../../src/cli/main.js';

const run = async (argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
};

test('a whole mark: the mask is all 32 bits', (t) => {
  t.deepEqual(ipftArgs(normalizeRule({ src: '10.0.0.1', mark: 0xdeadbeef })).argv, ['-m', '0xdeadbeef', '--mask', '0xffffffff']);
  t.deepEqual(ipftArgs('3735928559').argv, ['-m', '0xdeadbeef', '--mask', '0xffffffff'], 'decimal in, hex out');
});

test('a masked mark: mark and mask as the rule has them, in hex', (t) => {
  t.deepEqual(ipftArgs(normalizeRule({ mark: '0x10/0xf0' })).argv, ['-m', '0x10', '--mask', '0xf0']);
  t.like(ipftArgs('0x4000/0x4000'), { mark: 0x4000, mask: 0x4000 });
});

test('mark 0 and mask 0 are refused with typed errors (ipftrace2 rejects them)', (t) => {
  t.like(t.throws(() => ipftArgs(normalizeRule({ mark: 0 })), { instanceOf: PktmarkError }), { code: 'INVALID_MARK', field: 'mark' });
  t.like(t.throws(() => ipftArgs('0/0xff00'), { instanceOf: PktmarkError }), { code: 'INVALID_MARK', field: 'mark' });
  t.like(t.throws(() => ipftArgs('0/0'), { instanceOf: PktmarkError }), { code: 'INVALID_MASK', field: 'mask' });
});

test('xor rules are refused: there is no single mark to trace', (t) => {
  const x = normalizeRule({ mark: 0x5, mask: 0x1, xor: true });
  t.true(x.xor);
  t.like(t.throws(() => ipftArgs(x), { instanceOf: PktmarkError }), { code: 'UNSUPPORTED', field: 'mark' });
  t.is(ipftArgsOrNull(x), null);
});

test('list --json carries the arguments per rule (null where there are none)', (t) => {
  const j = ruleJson({ id: 'nft:prerouting:3', via: 'nft', rule: normalizeRule({ mark: '0x10/0xf0' }), packets: 0, bytes: 0, text: '' });
  t.deepEqual(j.ipft, ['-m', '0x10', '--mask', '0xf0']);
  t.is(ruleJson({ id: 'nft:prerouting:4', via: 'nft', packets: 0, bytes: 0, text: '' }).ipft, null);
});

test('CLI: ipft-args V[/M] prints the arguments; mark 0 exits 1 with the code', async (t) => {
  t.deepEqual(await run(['ipft-args', '0xdeadbeef']), { code: 0, out: ['-m 0xdeadbeef --mask 0xffffffff'], err: [] });
  t.deepEqual((await run(['--json', 'ipft-args', '0x10/0xf0'])).out, ['{"mark":"0x10","mask":"0xf0","args":["-m","0x10","--mask","0xf0"]}']);
  const z = await run(['ipft-args', '0']);
  t.is(z.code, 1);
  t.regex(z.err[0], /INVALID_MARK mark: mark 0/);
  const u = await run(['ipft-args']);
  t.is(u.code, 2);
});
