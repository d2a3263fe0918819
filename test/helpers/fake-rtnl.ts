/**
 * A small in-memory rtnetlink for the bpf/xdp backends' unit tests (no root): links with XDP,
 * clsact qdiscs, cls_bpf filters. It holds the programs it attaches through a FakeBpf the way the
 * kernel does (an fd of its own per attachment), so FakeBpf.liveObjects() tells whether anything
 * stayed loaded. `refuse(type, errno)` makes the next request of that type fail.
 */
import { AttributeReader, AttributeWriter, attr } from '../../codecs/netlink/attributes.js';
import { writeMessage, NLM_F_EXCL, type NetlinkMessage } from '../../codecs/netlink/message.js';
import {
  RTM_DELQDISC, RTM_DELTFILTER, RTM_GETLINK, RTM_GETQDISC, RTM_GETTFILTER, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER,
  INGRESS_QDISC_HANDLE, TC_H_INGRESS, TCA_KIND,
} from '../../codecs/tc/constants.js';
import { decodeFilter, encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { ifinfomsg, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO } from '../../codecs/tc/link.js';
import { tcmsg, TCMSG_SIZE } from '../../codecs/tc/tcmsg.js';
import {
  IFLA_XDP, IFLA_XDP_ATTACHED, IFLA_XDP_EXPECTED_FD, IFLA_XDP_FD, IFLA_XDP_FLAGS, IFLA_XDP_PROG_ID, XDP_ATTACHED_DRV, XDP_ATTACHED_SKB,
  XDP_FLAGS_DRV_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_UPDATE_IF_NOEXIST,
} from '../../codecs/tc/xdp.js';
import { FakeTransport, ackFor, doneFor } from '../../src/transport/fake.js';
import type { FakeBpf } from '../../src/testing/bpf.js';

interface FakeLink { index: number; name: string; kind?: string; xdp?: { fd: number; id: number; mode: number } }
interface FakeFilter { f: TcFilter; id: number; fd: number }

export class FakeRtnl {
  readonly links: FakeLink[] = [{ index: 1, name: 'lo' }, { index: 4, name: 'eth0', kind: 'veth' }];
  readonly clsact = new Set<number>();
  readonly filters: FakeFilter[] = [];
  /** every request type, in order */
  readonly types: number[] = [];
  /** every request */
  readonly requests: NetlinkMessage[] = [];
  private readonly refusals = new Map<number, number[]>();
  readonly transport: FakeTransport;

  constructor(private readonly bpf: FakeBpf) {
    this.transport = new FakeTransport(0, (reqs) => reqs.flatMap((r) => this.handle(r)));
  }

  refuse(type: number, errno: number): this { const q = this.refusals.get(type) ?? []; q.push(errno); this.refusals.set(type, q); return this; }

  private handle(r: NetlinkMessage): Uint8Array[] {
    this.types.push(r.header.type);
    this.requests.push(r);
    const errno = this.refusals.get(r.header.type)?.shift();
    if (errno !== undefined) return [ackFor(r, errno)];
    const seq = r.header.seq;
    switch (r.header.type) {
      case RTM_GETLINK: {
        const name = this.nameOf(r);
        if (name === undefined) return [...this.links.map((l) => this.link(seq, l)), doneFor(seq)];
        const l = this.links.find((x) => x.name === name);
        return l ? [this.link(seq, l), ackFor(r)] : [ackFor(r, 19)];
      }
      case RTM_NEWLINK: return this.setXdp(r);
      case RTM_GETQDISC: return [...[...this.clsact].map((i) => this.qdisc(seq, i)), doneFor(seq)];
      case RTM_NEWQDISC: { const t = tcmsg.decode(r.payload); if (this.clsact.has(t.ifindex)) return [ackFor(r, 17)]; this.clsact.add(t.ifindex); return [ackFor(r)]; }
      case RTM_DELQDISC: { const t = tcmsg.decode(r.payload); this.clsact.delete(t.ifindex); for (const f of this.filters.filter((x) => x.f.ifindex === t.ifindex)) this.drop(f); return [ackFor(r)]; }
      case RTM_GETTFILTER: {
        const t = tcmsg.decode(r.payload);
        if (!this.clsact.has(t.ifindex)) return [ackFor(r, 22)];
        return [...this.filters.filter((x) => x.f.ifindex === t.ifindex && x.f.parent === t.parent).map((x) => this.filterMsg(seq, x)), doneFor(seq)];
      }
      case RTM_NEWTFILTER: return this.newFilter(r);
      case RTM_DELTFILTER: {
        const f = decodeFilter(r);
        const x = this.filters.find((y) => y.f.ifindex === f.ifindex && y.f.parent === f.parent && y.f.prio === f.prio && y.f.handle === f.handle);
        if (!x) return [ackFor(r, 2)];
        this.drop(x);
        return [ackFor(r)];
      }
      default: return [ackFor(r, 95)];
    }
  }

  private nameOf(r: NetlinkMessage): string | undefined {
    for (const a of new AttributeReader(r.payload.subarray(ifinfomsg.size))) if (a.type === IFLA_IFNAME) return attr.string(a);
    return undefined;
  }

  /** the kernel's own reference: an fd of its own, as an attachment holds the program */
  private hold(fd: number): { fd: number; id: number } {
    const id = this.bpf.progInfo(fd).id;
    return { fd: this.bpf.progGetFdById(id), id };
  }
  private drop(x: FakeFilter): void { this.filters.splice(this.filters.indexOf(x), 1); this.bpf.close(x.fd); }

  private newFilter(r: NetlinkMessage): Uint8Array[] {
    const f = decodeFilter(r);
    if (!this.clsact.has(f.ifindex)) return [ackFor(r, 22)];
    if (f.options?.kind !== 'bpf' || f.options.fd === undefined) return [ackFor(r, 22)];
    const same = this.filters.find((y) => y.f.ifindex === f.ifindex && y.f.parent === f.parent && y.f.prio === f.prio && (f.handle === 0 || y.f.handle === f.handle));
    let held: { fd: number; id: number };
    try { held = this.hold(f.options.fd); } catch { return [ackFor(r, 9)]; }
    if (same && f.handle !== 0) {
      if (r.header.flags & NLM_F_EXCL) { this.bpf.close(held.fd); return [ackFor(r, 17)]; }
      this.bpf.close(same.fd);
      same.fd = held.fd; same.id = held.id; same.f = f;
      return [ackFor(r)];
    }
    const prio = f.prio || 49152 - this.filters.filter((y) => y.f.ifindex === f.ifindex).length;
    const handle = f.handle || 1;
    const x: FakeFilter = { f: { ...f, prio, handle }, ...held };
    this.filters.push(x);
    return [this.filterMsg(r.header.seq, x), ackFor(r)];
  }

  private setXdp(r: NetlinkMessage): Uint8Array[] {
    const idx = ifinfomsg.decode(r.payload).index;
    const l = this.links.find((x) => x.index === idx);
    if (!l) return [ackFor(r, 19)];
    let fd = -1, flags = 0, expected: number | undefined;
    for (const a of new AttributeReader(r.payload.subarray(ifinfomsg.size))) {
      if (a.type !== IFLA_XDP) continue;
      for (const x of new AttributeReader(a.data)) {
        if (x.type === IFLA_XDP_FD) fd = attr.i32(x);
        else if (x.type === IFLA_XDP_FLAGS) flags = attr.u32(x);
        else if (x.type === IFLA_XDP_EXPECTED_FD) expected = attr.i32(x);
      }
    }
    if (flags & XDP_FLAGS_UPDATE_IF_NOEXIST && l.xdp) return [ackFor(r, 16)];
    if (flags & XDP_FLAGS_REPLACE && (!l.xdp || expected === undefined || this.bpf.progInfo(expected).id !== l.xdp.id)) return [ackFor(r, 17)];
    if (l.xdp) { this.bpf.close(l.xdp.fd); delete l.xdp; }
    if (fd >= 0) l.xdp = { ...this.hold(fd), mode: flags & XDP_FLAGS_DRV_MODE ? XDP_ATTACHED_DRV : XDP_ATTACHED_SKB };
    return [ackFor(r)];
  }

  private link(seq: number, l: FakeLink): Uint8Array {
    const w = new AttributeWriter();
    writeMessage(w, RTM_NEWLINK, 2, seq, () => {
      w.struct(ifinfomsg, { family: 0, type: l.index === 1 ? 772 : 1, index: l.index, flags: 0, change: 0 });
      w.string(IFLA_IFNAME, l.name);
      if (l.kind) w.nested(IFLA_LINKINFO, () => w.string(IFLA_INFO_KIND, l.kind!));
      w.nested(IFLA_XDP, () => { w.u8(IFLA_XDP_ATTACHED, l.xdp?.mode ?? 0); if (l.xdp) w.u32(IFLA_XDP_PROG_ID, l.xdp.id); });
    });
    return w.finish();
  }
  private qdisc(seq: number, ifindex: number): Uint8Array {
    const w = new AttributeWriter();
    writeMessage(w, RTM_NEWQDISC, 2, seq, () => { w.struct(tcmsg, { family: 0, ifindex, handle: INGRESS_QDISC_HANDLE, parent: TC_H_INGRESS, info: 0 }); w.string(TCA_KIND, 'clsact'); });
    return w.finish();
  }
  private filterMsg(seq: number, x: FakeFilter): Uint8Array {
    const w = new AttributeWriter();
    const o = x.f.options!.kind === 'bpf' ? x.f.options! : undefined;
    encodeNewFilter(w, seq, { ...x.f, options: { kind: 'bpf', ...(o?.name ? { name: o.name } : {}), flags: 1, id: x.id, extra: [] } });
    return w.finish();
  }
}
export { TCMSG_SIZE };
