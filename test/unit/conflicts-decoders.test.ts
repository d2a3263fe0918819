/**
 * Decoders whose kernel objects this machine cannot make (no wireguard, IPVS, act_connmark,
 * act_ctinfo or ESP here), checked on messages built from the documented layouts
 * (include/uapi/linux/{wireguard,ip_vs,genetlink,xfrm}.h, tc_act/tc_{connmark,ctinfo}.h);
 * the captured ones are in conflicts-scan.test.ts, and WireGuard's, captured in the test/vm guest, at the end.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { ifinfomsg, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO } from '../../codecs/tc/link.js';
import { scan } from '../../src/conflicts/scan.js';
import { ackFor, doneFor, FakeTransport, fromHex } from '../../src/transport/fake.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, type NetlinkProtocol, type Transport } from '../../src/transport/transport.js';
import { attr, AttributeReader, AttributeWriter } from '../../codecs/netlink/attributes.js';
import { NLM_F_MULTI, parseMessages, writeMessage, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { decodeFamilyId, encodeGetFamily, genlmsghdr, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, GENL_ID_CTRL } from '../../codecs/genl/genl.js';
import { decodeWgDevice, encodeWgGetDevice, WGDEVICE_A_FWMARK, WGDEVICE_A_IFINDEX, WGDEVICE_A_IFNAME, WGDEVICE_A_LISTEN_PORT } from '../../codecs/genl/wireguard.js';
import { decodeIpvsService, IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_AF, IPVS_SVC_ATTR_FWMARK, IPVS_SVC_ATTR_SCHED_NAME } from '../../codecs/genl/ipvs.js';
import { decodeConnmarkAction, TCA_CONNMARK_PARMS } from '../../codecs/tc/actions/connmark.js';
import { decodeCtinfoAction, TCA_CTINFO_PARMS_CPMARK_MASK, TCA_CTINFO_ZONE } from '../../codecs/tc/actions/ctinfo.js';
import { decodeXfrm, XFRM_MSG_NEWSA, XFRM_USERSA_INFO_SIZE, XFRMA_MARK, XFRMA_SET_MARK, XFRMA_SET_MARK_MASK } from '../../codecs/xfrm/xfrm.js';

const genlReply = (type: number, cmd: number, fill: (w: AttributeWriter) => void) => {
  const w = new AttributeWriter(256);
  writeMessage(w, type, NLM_F_MULTI, 1, (w) => { w.struct(genlmsghdr, { cmd, version: 1, reserved: 0 }); fill(w); });
  return parseMessages(w.finish())[0]!;
};

test('genl: GETFAMILY request bytes, and the family id from CTRL_CMD_NEWFAMILY', (t) => {
  const w = new AttributeWriter(64);
  encodeGetFamily(w, 7, 'wireguard');
  const m = parseMessages(w.finish())[0]!;
  t.is(m.header.type, GENL_ID_CTRL);
  t.deepEqual([...m.payload.subarray(0, 4)], [3, 1, 0, 0], 'CTRL_CMD_GETFAMILY, version 1');
  const attrs = [...new AttributeReader(m.payload.subarray(4))];
  t.deepEqual(attrs.map((a) => [a.type, attr.string(a)]), [[CTRL_ATTR_FAMILY_NAME, 'wireguard']]);
  t.is(decodeFamilyId(genlReply(GENL_ID_CTRL, 1, (w) => w.u16(CTRL_ATTR_FAMILY_ID, 0x22))), 0x22);
});

test('wireguard: WG_CMD_GET_DEVICE names the device; WGDEVICE_A_FWMARK is read back', (t) => {
  const w = new AttributeWriter(64);
  encodeWgGetDevice(w, 3, 0x22, 5);
  const req = parseMessages(w.finish())[0]!;
  t.is(req.header.type, 0x22);
  t.is(req.header.flags & 0x300, 0x300, 'dump-only command');
  const d = decodeWgDevice(genlReply(0x22, 0, (w) => {
    w.u32(WGDEVICE_A_IFINDEX, 5); w.string(WGDEVICE_A_IFNAME, 'wg0'); w.u16(WGDEVICE_A_LISTEN_PORT, 51820); w.u32(WGDEVICE_A_FWMARK, 0xca6c);
  }));
  t.deepEqual(d, { ifindex: 5, ifname: 'wg0', listenPort: 51820, fwmark: 0xca6c });
});

test('ipvs: a fwmark service', (t) => {
  const s = decodeIpvsService(genlReply(0x23, 1, (w) => w.nested(IPVS_CMD_ATTR_SERVICE, (w) => {
    w.u16(IPVS_SVC_ATTR_AF, 2); w.u32(IPVS_SVC_ATTR_FWMARK, 0x42); w.string(IPVS_SVC_ATTR_SCHED_NAME, 'rr');
  })));
  t.deepEqual(s, { af: 2, fwmark: 0x42, scheduler: 'rr' });
});

test('act_connmark and act_ctinfo options', (t) => {
  const c = new AttributeWriter(64);
  const parms = new Uint8Array(24); new DataView(parms.buffer).setUint16(20, 3, true);
  c.bytes(TCA_CONNMARK_PARMS, parms);
  t.deepEqual(decodeConnmarkAction(c.finish()), { kind: 'connmark', zone: 3 });
  const i = new AttributeWriter(64);
  i.u16(TCA_CTINFO_ZONE, 0); i.u32(TCA_CTINFO_PARMS_CPMARK_MASK, 0xff00);
  t.deepEqual(decodeCtinfoAction(i.finish()), { kind: 'ctinfo', zone: 0, cpmarkMask: 0xff00 });
});

test('xfrm state: XFRMA_MARK and XFRMA_SET_MARK (+ mask) after xfrm_usersa_info', (t) => {
  const w = new AttributeWriter(512);
  writeMessage(w, XFRM_MSG_NEWSA, NLM_F_MULTI, 1, (w) => {
    const at = w.reserve(XFRM_USERSA_INFO_SIZE);
    w.patchBytes(at + 72, new Uint8Array([0, 0, 1, 0])); // id.spi, big-endian
    w.patchBytes(at + 76, new Uint8Array([50])); // id.proto esp
    const mark = new Uint8Array(8); new DataView(mark.buffer).setUint32(0, 0x10, true); new DataView(mark.buffer).setUint32(4, 0xff, true);
    w.bytes(XFRMA_MARK, mark);
    w.u32(XFRMA_SET_MARK, 0x20); w.u32(XFRMA_SET_MARK_MASK, 0xf0);
  });
  const x = decodeXfrm(parseMessages(w.finish())[0]!);
  t.like(x, { what: 'state', spi: 0x100, proto: 50, mark: { value: 0x10, mask: 0xff }, setMark: { value: 0x20, mask: 0xf0 } });
});

interface VmFixture { readonly familyId: number; readonly runs: readonly { readonly replies: readonly string[] }[] }
const vm = JSON.parse(readFileSync(new URL('../../fixtures/conflicts/wireguard-vm.json', import.meta.url), 'utf8')) as VmFixture;
const vmReplies = (run: number) => vm.runs[run]!.replies.flatMap((h) => parseMessages(fromHex(h)));

test('wireguard: the guest kernel\'s own replies (fixtures/conflicts/wireguard-vm.json, captured in test/vm): family id and fwmark', (t) => {
  const fam = vmReplies(0).find((m) => m.header.type === GENL_ID_CTRL)!;
  t.is(decodeFamilyId(fam), vm.familyId);
  const dev = vmReplies(1).filter((m) => m.header.type === vm.familyId).map(decodeWgDevice);
  t.like(dev[0], { ifname: 'wg0', fwmark: 0xca6c });
});

test('wireguard scanner: a wireguard link (RTM_NEWLINK kind wireguard) is asked for its device; the captured reply gives the fwmark', async (t) => {
  const link = (seq: number): Uint8Array => {
    const w = new AttributeWriter(128);
    writeMessage(w, 16 /* RTM_NEWLINK */, NLM_F_MULTI, seq, (w) => {
      w.struct(ifinfomsg, { family: 0, type: 65534, index: 2, flags: 0, change: 0 });
      w.string(IFLA_IFNAME, 'wg0');
      w.nested(IFLA_LINKINFO, (w) => w.string(IFLA_INFO_KIND, 'wireguard'));
    });
    return w.finish();
  };
  const renumber = (m: NetlinkMessage, seq: number): Uint8Array => {
    const b = new Uint8Array(16 + m.payload.length); const v = new DataView(b.buffer);
    v.setUint32(0, b.length, true); v.setUint16(4, m.header.type, true); v.setUint16(6, m.header.flags, true); v.setUint32(8, seq, true);
    b.set(m.payload, 16); return b;
  };
  const factory = (p: NetlinkProtocol): Transport => new FakeTransport(p, (reqs) => reqs.flatMap((r) => {
    if (p === NETLINK_ROUTE) return r.header.type === 18 ? [link(r.header.seq), doneFor(r.header.seq)] : [doneFor(r.header.seq)];
    if (p === NETLINK_GENERIC && r.header.type === GENL_ID_CTRL) return [...vmReplies(0).filter((m) => m.header.type === GENL_ID_CTRL).map((m) => renumber(m, r.header.seq)), ackFor(r)];
    if (p === NETLINK_GENERIC && r.header.type === vm.familyId) return [...vmReplies(1).filter((m) => m.header.type === vm.familyId).map((m) => renumber(m, r.header.seq)), doneFor(r.header.seq)];
    return [r.header.flags & 0x300 ? doneFor(r.header.seq) : ackFor(r)];
  }));
  const r = await scan({ transport: async (p) => factory(p), table: 'pktmark' }, { sources: ['wireguard'] });
  t.deepEqual(r.unreadable, []);
  t.like(r.users[0], { source: 'wireguard', owner: 'wireguard wg0', action: 'sets', values: [0xca6c], whole: true });
});
