/**
 * The u32 handles pktmark picks itself (src/backends/tc/handles.ts, send.ts), against a fake
 * rtnetlink that keeps u32 the way cls_api.c/cls_u32.c do: a root table per priority, its htid
 * handed out per qdisc (800: first, then 801:, …), a request's full handle refused when taken
 * (EEXIST) or of another table (EINVAL), handle 0 given the lowest free node from 0x800, an ack
 * only when asked for or on a refusal, NLM_F_ECHO answered with the filter.
 */
import test from 'ava';
import { AttributeReader, AttributeWriter, attr } from '../../codecs/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_ECHO, writeMessage, type NetlinkMessage } from '../../codecs/netlink/message.js';
import { RTM_DELTFILTER, RTM_GETLINK, RTM_GETQDISC, RTM_GETTFILTER, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER, TC_H_INGRESS, TCA_KIND } from '../../codecs/tc/constants.js';
import { decodeFilter, encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { ifinfomsg, IFLA_IFNAME } from '../../codecs/tc/link.js';
import { tcmsg } from '../../codecs/tc/tcmsg.js';
import { FakeTransport, ackFor, doneFor } from '../../src/transport/fake.js';
import { RootTable, nodesIn } from '../../src/backends/tc/handles.js';
import { rootTables, sendFilters, type PlannedFilter } from '../../src/backends/tc/send.js';
import { tcBackend, addFilters } from '../../src/backends/tc/index.js';
import { normalizeRule } from '../../src/normalize.js';
import type { BackendContext } from '../../src/backends/backend.js';
import { PktmarkError } from '../../src/errors.js';

test('node ids come in gen_new_kid\'s order: lowest free from 0x800, then from 0x001; none when all 4095 are used', (t) => {
  const fresh = new RootTable(0x80000000);
  t.deepEqual([fresh.take(), fresh.take(), fresh.take()], [0x80000800, 0x80000801, 0x80000802]);
  const used = new RootTable(0x80100000, [0x800, 0x802, 0x803]);
  t.deepEqual([used.take(), used.take()], [0x80100801, 0x80100804]);
  const high = new RootTable(0x80000000, Array.from({ length: 0x800 }, (_, i) => 0x800 + i).concat([1]));
  t.is(high.take(), 0x80000002, 'past 0xfff the low ids, skipping the used ones');
  const full = new RootTable(0x80000000, Array.from({ length: 0xfff }, (_, i) => i + 1));
  t.is(full.take(), undefined);
  t.deepEqual(nodesIn(0x80100000, [0x80100000, 0x80100801, 0x80000805, 0, 0x80100fff]), [0x801, 0xfff], 'the table itself, other tables and the bare priority are left out');
});

const IFINDEX = 3, INGRESS = 0xfffffff2;
interface Tp { htid: number; protocol: number; nodes: Map<number, TcFilter> }

class U32Kernel {
  readonly tps = new Map<string, Tp>();
  private nextHtid = 0;
  /** request kinds per sendmsg, with the handle and flags of each NEWTFILTER */
  readonly sends: { type: number; handle: number; echo: boolean; ack: boolean }[][] = [];
  qdisc = true;
  /** runs before each sendmsg is handled: another writer's moment */
  before?: (reqs: NetlinkMessage[]) => void;

  transport(): FakeTransport {
    return new FakeTransport(0, (reqs) => {
      this.before?.(reqs);
      this.sends.push(reqs.map((r) => ({ type: r.header.type, handle: r.header.type === RTM_NEWTFILTER ? tcmsg.decode(r.payload).handle : 0, echo: (r.header.flags & NLM_F_ECHO) !== 0, ack: (r.header.flags & NLM_F_ACK) !== 0 })));
      return reqs.flatMap((r) => this.handle(r));
    });
  }
  /** a filter another tool adds (`tc filter add … [handle H]`) */
  add(prio: number, handle = 0, protocol = 0x0008): number {
    let tp = this.tps.get(`${INGRESS}/${prio}`);
    if (!tp) { tp = { htid: this.htid(), protocol, nodes: new Map() }; this.tps.set(`${INGRESS}/${prio}`, tp); }
    const h = handle || this.lowest(tp);
    tp.nodes.set(h, { ifindex: IFINDEX, parent: INGRESS, prio, protocol, handle: h, options: { kind: 'u32', sel: { flags: 0, offshift: 0, offmask: 0, off: 0, offoff: 0, hoff: 0, hmask: 0, keys: [] }, extra: [] } });
    return h;
  }
  handles(prio: number): number[] { return [...(this.tps.get(`${INGRESS}/${prio}`)?.nodes.keys() ?? [])].sort((a, b) => a - b); }
  private htid(): number { const id = this.nextHtid === 0 ? 0x800 : 0x800 | this.nextHtid; this.nextHtid++; return (id << 20) >>> 0; }
  private lowest(tp: Tp): number { for (let n = 0x800; n <= 0xfff; n++) if (!tp.nodes.has((tp.htid | n) >>> 0)) return (tp.htid | n) >>> 0; throw new Error('full'); }
  private msg(seq: number, fill: (w: AttributeWriter) => void, flags = 0): Uint8Array { const w = new AttributeWriter(); writeMessage(w, RTM_NEWTFILTER, flags, seq, () => fill(w)); return w.finish(); }
  private whole(f: TcFilter, seq: number, flags = 0): Uint8Array { const w = new AttributeWriter(); encodeNewFilter(w, seq, f); const b = w.finish(); b[6] = flags; b[7] = 0; return b; }
  private handle(r: NetlinkMessage): Uint8Array[] {
    const seq = r.header.seq, ackd = (r.header.flags & NLM_F_ACK) !== 0;
    const ok = (): Uint8Array[] => (ackd ? [ackFor(r)] : []);
    switch (r.header.type) {
      case RTM_GETLINK: {
        let name: string | undefined;
        for (const a of new AttributeReader(r.payload.subarray(ifinfomsg.size))) if (a.type === IFLA_IFNAME) name = attr.string(a);
        if (name !== undefined && name !== 'd0') return [ackFor(r, 19)];
        const w = new AttributeWriter();
        writeMessage(w, RTM_NEWLINK, 0, seq, () => { w.struct(ifinfomsg, { family: 0, type: 1, index: IFINDEX, flags: 0, change: 0 }); w.string(IFLA_IFNAME, 'd0'); });
        return [w.finish(), name ? ackFor(r) : doneFor(seq)];
      }
      case RTM_GETQDISC: {
        if (!this.qdisc) return [doneFor(seq)];
        const w = new AttributeWriter();
        writeMessage(w, RTM_NEWQDISC, 2, seq, () => { w.struct(tcmsg, { family: 0, ifindex: IFINDEX, handle: 0xffff0000, parent: TC_H_INGRESS, info: 0 }); w.string(TCA_KIND, 'clsact'); });
        return [w.finish(), doneFor(seq)];
      }
      case RTM_NEWQDISC: this.qdisc = true; return [ackFor(r)];
      case RTM_GETTFILTER: {
        const f = decodeFilter(r);
        if (r.header.flags & NLM_F_DUMP) {
          const out: Uint8Array[] = [];
          for (const [k, tp] of this.tps) if (k.startsWith(`${f.parent}/`)) for (const n of tp.nodes.values()) out.push(this.whole(n, seq, 2));
          return [...out, doneFor(seq)];
        }
        const tp = this.tps.get(`${f.parent}/${f.prio}`);
        if (!tp) return [ackFor(r, 2, { message: 'Filter with specified priority/protocol not found' })];
        if (f.handle !== 0xfff00000) return [ackFor(r, 95)];
        return [this.msg(seq, (w) => { w.struct(tcmsg, { family: 0, ifindex: IFINDEX, handle: tp.htid, parent: f.parent, info: ((f.prio << 16) | 0x0008) >>> 0 }); w.string(TCA_KIND, 'u32'); }), ...ok()];
      }
      case RTM_NEWTFILTER: {
        const f = decodeFilter(r);
        const key = `${f.parent}/${f.prio}`;
        let tp = this.tps.get(key);
        const created = !tp;
        if (!tp) { tp = { htid: this.htid(), protocol: f.protocol, nodes: new Map() }; this.tps.set(key, tp); }
        const refuse = (errno: number, message?: string): Uint8Array[] => { if (created) this.tps.delete(key); return [ackFor(r, errno, message ? { message } : undefined)]; };
        if (f.handle && tp.nodes.has(f.handle)) return refuse(17, 'Filter already exists');
        if (f.handle && ((f.handle ^ tp.htid) & 0xfff00000) !== 0) return refuse(22, 'cls_u32: Handle specified hash table address mismatch');
        const o = f.options;
        // the refusal these tests inject: a selector on 10.0.0.66
        if (o?.kind === 'u32' && o.sel?.keys.some((k) => k.val === 0x0a000042)) return refuse(22, 'injected refusal');
        const h = f.handle || this.lowest(tp);
        const stored: TcFilter = { ...f, handle: h };
        tp.nodes.set(h, stored);
        return [...(r.header.flags & NLM_F_ECHO ? [this.whole(stored, seq)] : []), ...ok()];
      }
      case RTM_DELTFILTER: {
        const f = decodeFilter(r);
        const tp = this.tps.get(`${f.parent}/${f.prio}`);
        if (!tp) return [ackFor(r, 2)];
        if (f.handle === 0) this.tps.delete(`${f.parent}/${f.prio}`);
        else if (!tp.nodes.delete(f.handle)) return [ackFor(r, 2)];
        return ok();
      }
      default: return [ackFor(r, 95)];
    }
  }
}

const src = (i: number): string => `10.0.0.${i}`;
/** prio 0: none given (the kernel picks) */
const rule = (i: number, prio = 1) => normalizeRule({ via: 'tc', dev: 'd0', src: src(i), mark: 1, ...(prio ? { prio } : {}) });
const ctxOf = (k: U32Kernel): BackendContext => { const t = k.transport(); return { table: 'pktmark', transport: async () => t, bpf: () => Promise.reject(new Error('no bpf here')) }; };
const idsOf = (records: readonly ({ id: string } | undefined)[]): (string | undefined)[] => records.map((r) => r?.id);
const filterSends = (k: U32Kernel) => k.sends.filter((s) => s.some((m) => m.type === RTM_NEWTFILTER));

test('a new priority: its first filter echoed (handle 0), the rest in one more sendmsg with 800::801… and one ack', async (t) => {
  const k = new U32Kernel();
  const records = await tcBackend.add([1, 2, 3, 4].map((i) => rule(i)), ctxOf(k));
  t.deepEqual(idsOf(records), ['tc:d0:ingress:1:800::800', 'tc:d0:ingress:1:800::801', 'tc:d0:ingress:1:800::802', 'tc:d0:ingress:1:800::803']);
  t.deepEqual(k.handles(1), [0x80000800, 0x80000801, 0x80000802, 0x80000803]);
  t.deepEqual(filterSends(k).map((s) => s.map((m) => [m.handle, m.echo, m.ack])), [
    [[0, true, true]],
    [[0x80000801, false, false], [0x80000802, false, false], [0x80000803, false, true]],
  ]);
  t.like(records[2].rule, { src: { address: '10.0.0.3', prefix: 32 }, prio: 1, mark: 1 });
  const ctx = ctxOf(k);
  // as JSON: an added record makes its id and text on first read (owned.ts), a listed one is a plain object
  const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));
  t.deepEqual(plain(await tcBackend.list(ctx)), plain(records), 'the records of the filters sent without echo are what list decodes from the kernel');
});

test('an existing priority: its htid from `get … handle fff::`, nodes around the ones in use, all in one sendmsg', async (t) => {
  const k = new U32Kernel();
  k.add(5); // prio 5 is 800:, so prio 1 gets 801:
  k.add(1, 0); k.add(1, 0x80100802);
  const records = await tcBackend.add([1, 2, 3].map((i) => rule(i)), ctxOf(k));
  t.deepEqual(idsOf(records), ['tc:d0:ingress:1:801::801', 'tc:d0:ingress:1:801::803', 'tc:d0:ingress:1:801::804']);
  t.true(k.sends.some((s) => s.length === 1 && s[0].type === RTM_GETTFILTER), 'the root table was asked');
  t.deepEqual(filterSends(k).map((s) => s.length), [3]);
});

test('another writer takes a chosen node between the look-up and the add: BUSY naming the handle, nothing of the add left', async (t) => {
  const k = new U32Kernel();
  k.add(1);
  k.before = (reqs) => { if (reqs[0].header.type === RTM_NEWTFILTER) { k.add(1, 0x80000802); k.before = undefined; } };
  const e = await t.throwsAsync(tcBackend.add([1, 2, 3].map((i) => rule(i)), ctxOf(k)), { instanceOf: PktmarkError });
  t.is(e?.code, 'BUSY');
  t.regex(e?.message ?? '', /u32 handle 800::802 on d0 ingress prio 1 was taken/);
  t.deepEqual(k.handles(1), [0x80000800, 0x80000802], 'the other writer\'s filters only');
});

test('the priority replaced meanwhile (new htid): the chosen handles are refused, never given another id', async (t) => {
  const k = new U32Kernel();
  k.add(1);
  k.before = (reqs) => { if (reqs[0].header.type === RTM_NEWTFILTER) { k.tps.delete(`${INGRESS}/1`); k.add(1); k.before = undefined; } };
  const o = await addFilters([1, 2].map((i) => rule(i)), ctxOf(k), { force: true });
  t.deepEqual(o.failures.map((f) => (f.error as PktmarkError).code), ['BUSY', 'BUSY']);
  t.deepEqual(k.handles(1), [0x80100800]);
});

test('atomic: a refusal stops the filters planned after it, still sends the ones before, and undoes them all', async (t) => {
  const k = new U32Kernel();
  const e = await t.throwsAsync(tcBackend.add([rule(1), rule(2), rule(66, 2), rule(3, 2)], ctxOf(k)), { instanceOf: PktmarkError });
  t.is(e?.messageIndex, 2, 'the first refusal in rule order');
  t.is(k.tps.size, 0);
  // round 1: the first of prio 1 and of prio 2 (refused); round 2: rule 1 (before the refusal), not rule 3
  t.deepEqual(filterSends(k).map((s) => s.map((m) => m.handle)), [[0, 0], [0x80000801]]);
});

test('force: a refused first filter of a new priority leaves the next one to open it; the others keep their ids', async (t) => {
  const k = new U32Kernel();
  const o = await addFilters([rule(66), rule(1), rule(2), rule(3)], ctxOf(k), { force: true });
  t.deepEqual(o.failures.map((f) => f.index), [0]);
  t.deepEqual(idsOf(o.records), [undefined, 'tc:d0:ingress:1:801::800', 'tc:d0:ingress:1:801::801', 'tc:d0:ingress:1:801::802']);
  t.deepEqual(filterSends(k).map((s) => s.map((m) => m.echo)), [[true], [true], [false, false]]);
});

test('a batch with a prio-0 rule is sent as tc does: handle 0 and an echo for every filter, in rule order, one sendmsg', async (t) => {
  const k = new U32Kernel();
  const planned: PlannedFilter[] = [rule(1), rule(2, 0), rule(3)].map((r, i) => ({ direction: 'ingress', filter: { ifindex: IFINDEX, parent: INGRESS, prio: r.prio ?? 0, protocol: 0x0008, handle: 0, options: { kind: 'u32', extra: [], sel: { flags: 0, offshift: 0, offmask: 0, off: 0, offoff: 0, hoff: 0, hmask: 0, keys: [{ mask: -1, val: 0x0a000001 + i, off: 12, offmask: 0 }] } } } }));
  const tables = await rootTables(k.transport(), planned, new Map());
  const out = await sendFilters(k.transport(), planned, tables, { atomic: true });
  t.deepEqual(out.map((o) => [o.echo !== undefined, o.refused?.errno]), [[true, undefined], [true, undefined], [true, undefined]]);
  t.deepEqual(filterSends(k).map((s) => s.map((m) => [m.handle, m.echo])), [[[0, true], [0, true], [0, true]]]);
});
