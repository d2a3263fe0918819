/**
 * The nft backend's CONNMARK and user-chain paths against pktmark/testing's fake nf_tables: a
 * kernel before 6.13 refusing the two-register bitwise (EOPNOTSUPP) is UNSUPPORTED naming
 * connmark; rules in and jumping to a user chain create it in their own batch. No root needed.
 */
import test from 'ava';
import type { NetlinkMessage } from '../../codecs/netlink/message.js';
import { PktmarkError } from '../../codecs/errors.js';
import { nftBackend } from '../../src/backends/nft/index.js';
import type { BackendContext } from '../../src/backends/backend.js';
import { FakeNftKernel, FakeTransport } from '../../src/testing/index.js';
import { NETLINK_NETFILTER } from '../../src/transport/transport.js';
import { normalizeRule } from '../../src/normalize.js';
import { EOPNOTSUPP } from '../../codecs/errno.js';

class FakeKernel extends FakeNftKernel {
  readonly transport = this.connect(NETLINK_NETFILTER) as FakeTransport;
  ctx(): BackendContext { return { table: 'pktmark', transport: async () => this.transport, bpf: () => Promise.reject(new Error('no bpf')) }; }
}

test('a kernel without the two-register bitwise: a masked --save-mark is UNSUPPORTED, field connmark, nothing applied', async (t) => {
  const k = new FakeKernel();
  const masked = normalizeRule({ hook: 'prerouting', table: 'mangle', connmark: { op: 'save', nfmask: 0xff, ctmask: 0xff00 } });
  const offsetIn = (m: NetlinkMessage): number => {
    const b = new Uint8Array(m.payload.buffer, m.payload.byteOffset - 16, m.header.len);
    return Buffer.from(b).lastIndexOf('bitwise') - 8;
  };
  k.failRule = { index: 0, errno: EOPNOTSUPP, offsetIn };
  const e = await t.throwsAsync(nftBackend.add([masked], k.ctx()), { instanceOf: PktmarkError });
  t.is(e!.code, 'UNSUPPORTED');
  t.is(e!.field, 'connmark');
  t.regex(e!.message, /Linux 6\.13/);
  t.deepEqual(k.tables, [], 'nothing applied');
});

test('rules in and jumping to a user chain: one batch makes the chain, list decodes both with ids naming it', async (t) => {
  const k = new FakeKernel();
  const recs = await nftBackend.add([
    normalizeRule({ hook: 'prerouting', table: 'mangle', proto: 'udp', jump: 'FOO' }),
    normalizeRule({ chain: 'FOO', table: 'mangle', src: '10.0.0.1', mark: 5 }),
    normalizeRule({ chain: 'FOO', table: 'mangle', jump: 'RETURN' }),
  ], k.ctx());
  t.is(k.exchanges, 2, 'GETTABLE, then one batch');
  t.deepEqual(recs.map((r) => r.id.replace(/\d+$/, 'H')), ['nft:mangle_prerouting:H', 'nft:mangle.FOO:H', 'nft:mangle.FOO:H']);
  const listed = await nftBackend.list(k.ctx());
  t.deepEqual(listed.map((r) => r.rule?.jump ?? r.rule?.mark), ['FOO', 5, 'RETURN']);
  t.is(listed[1].text, 'nft add rule inet pktmark mangle.FOO ip saddr 10.0.0.1 counter meta mark set 0x5');
});
