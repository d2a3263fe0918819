/**
 * `pktmark tc -batch` without root: the line reader (iproute2's getcmdline/makeargs rules), the
 * parse errors with FILE:LINE, --dry-run --hex, and the atomic and -force semantics against a
 * small fake rtnetlink that takes u32 filters (this kernel's lack of act_skbedit refuses every
 * one; the fake lets some go in, and refuses the ones with mark 0xbad).
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributeReader, AttributeWriter, attr } from '../../codecs/netlink/attributes.js';
import { writeMessage, parseMessages, type NetlinkMessage } from '../../codecs/netlink/message.js';
import {
  RTM_DELQDISC, RTM_DELTFILTER, RTM_GETLINK, RTM_GETQDISC, RTM_GETTFILTER, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER, TC_H_INGRESS, TCA_KIND,
} from '../../codecs/tc/constants.js';
import { decodeFilter, encodeNewFilter, type TcFilter } from '../../codecs/tc/filter.js';
import { ifinfomsg, IFLA_IFNAME } from '../../codecs/tc/link.js';
import { tcmsg } from '../../codecs/tc/tcmsg.js';
import { FakeTransport, ackFor, doneFor } from '../../src/transport/fake.js';
import { main } from '../../src/cli/main.js';
import { splitBatch } from '../../src/cli/fronts/tc-batch.js';

/** links lo (1) and d0 (3); qdiscs by ifindex; u32 nodes as the kernel echoes them */
class FakeU32 {
  readonly qdiscs = new Map<number, string>();
  filters: TcFilter[] = [];
  /** requests per sendmsg: the filters of a batch must come in one */
  readonly sends: number[][] = [];
  private next = 0x800;
  /** a new socket on the same fake kernel (the CLI closes its socket after each command) */
  connect(): FakeTransport { return new FakeTransport(0, (reqs) => { this.sends.push(reqs.map((r) => r.header.type)); return reqs.flatMap((r) => this.handle(r)); }); }

  private handle(r: NetlinkMessage): Uint8Array[] {
    const seq = r.header.seq;
    switch (r.header.type) {
      case RTM_GETLINK: {
        let name: string | undefined;
        for (const a of new AttributeReader(r.payload.subarray(ifinfomsg.size))) if (a.type === IFLA_IFNAME) name = attr.string(a);
        const links: [number, string][] = [[1, 'lo'], [3, 'd0']];
        const found = links.filter(([, n]) => name === undefined || n === name);
        if (name !== undefined && !found.length) return [ackFor(r, 19)];
        return [...found.map(([i, n]) => this.msg(RTM_NEWLINK, seq, (w) => { w.struct(ifinfomsg, { family: 0, type: 1, index: i, flags: 0, change: 0 }); w.string(IFLA_IFNAME, n); })), name ? ackFor(r) : doneFor(seq)];
      }
      case RTM_GETQDISC:
        return [...[...this.qdiscs].map(([i, kind]) => this.msg(RTM_NEWQDISC, seq, (w) => { w.struct(tcmsg, { family: 0, ifindex: i, handle: 0xffff0000, parent: TC_H_INGRESS, info: 0 }); w.string(TCA_KIND, kind); })), doneFor(seq)];
      case RTM_NEWQDISC: {
        const t = tcmsg.decode(r.payload);
        if (this.qdiscs.has(t.ifindex)) return [ackFor(r, 17)];
        let kind = '';
        for (const a of new AttributeReader(r.payload.subarray(20))) if (a.type === TCA_KIND) kind = attr.string(a);
        this.qdiscs.set(t.ifindex, kind);
        return [ackFor(r)];
      }
      case RTM_DELQDISC: { const t = tcmsg.decode(r.payload); this.qdiscs.delete(t.ifindex); this.filters = this.filters.filter((f) => f.ifindex !== t.ifindex); return [ackFor(r)]; }
      case RTM_GETTFILTER: {
        const t = tcmsg.decode(r.payload);
        return [...this.filters.filter((f) => f.ifindex === t.ifindex && f.parent === t.parent).map((f) => this.msg(RTM_NEWTFILTER, seq, (w) => encodeNewFilter(w, seq, f), true)), doneFor(seq)];
      }
      case RTM_NEWTFILTER: {
        const f = decodeFilter(r);
        if (!this.qdiscs.has(f.ifindex)) return [ackFor(r, 22)];
        const o = f.options;
        if (o?.kind === 'u32' && o.actions?.some((a) => a.options.kind === 'skbedit' && a.options.mark === 0xbad)) return [ackFor(r, 22, { message: 'injected refusal' })];
        const stored: TcFilter = { ...f, prio: f.prio || 49152, handle: 0x80000000 | this.next++ };
        this.filters.push(stored);
        return [this.msg(RTM_NEWTFILTER, seq, (w) => encodeNewFilter(w, seq, stored), true), ackFor(r)];
      }
      case RTM_DELTFILTER: {
        const f = decodeFilter(r);
        const hit = (x: TcFilter): boolean => x.ifindex === f.ifindex && x.parent === f.parent && x.prio === f.prio && (f.handle === 0 || x.handle === f.handle);
        // (a priority's u32 instance outlives its last node, so deleting the priority always works)
        if (f.handle !== 0 && !this.filters.some(hit)) return [ackFor(r, 2)];
        this.filters = this.filters.filter((x) => !hit(x));
        return [ackFor(r)];
      }
      default: return [ackFor(r, 95)];
    }
  }
  private msg(type: number, seq: number, fill: (w: AttributeWriter) => void, whole = false): Uint8Array {
    const w = new AttributeWriter();
    if (whole) fill(w); else writeMessage(w, type, 2, seq, () => fill(w));
    return w.finish();
  }
  /** the marks of the filters now in the fake kernel */
  marks(): number[] {
    return this.filters.flatMap((f) => (f.options?.kind === 'u32' ? (f.options.actions ?? []).flatMap((a) => (a.options.kind === 'skbedit' && a.options.mark !== undefined ? [a.options.mark] : [])) : []));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'pktmark-tc-batch-'));
function file(name: string, text: string): string { const p = join(dir, name); writeFileSync(p, text); return p; }
async function run(k: FakeU32 | undefined, argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, k ? { transport: () => k.connect() } : undefined);
  return { code, out, err };
}
const F = (prio: number, mark: string, match = `match ip src 10.0.0.${prio}`): string => `filter add dev d0 ingress protocol ip prio ${prio} u32 ${match} action skbedit mark ${mark}`;

test('lines are read as tc reads them: # comments anywhere, \\ continuation (reported at its last line), quotes, CRLF, blank lines', (t) => {
  const lines = splitBatch('# head\r\n\r\nqdisc add dev d0 clsact # mine\r\nfilter add dev "d0" \\\n  ingress\n   \n\'a b\' c\n', 'F');
  t.deepEqual(lines, [
    { line: 3, words: ['qdisc', 'add', 'dev', 'd0', 'clsact'] },
    { line: 5, words: ['filter', 'add', 'dev', 'd0', 'ingress'] },
    { line: 7, words: ['a b', 'c'] },
  ]);
  const [bad] = splitBatch('filter add "dev d0\n', 'F');
  t.true('error' in bad && /^F:1: unterminated/.test(bad.error.message));
});

test('a bad line is refused with FILE:LINE and its word before anything is sent; exit 1 as tc', async (t) => {
  const k = new FakeU32();
  const p = file('bad.tc', [F(1, '1'), '', F(2, '2', 'match ip bogus 1'), 'filter show dev d0', 'tc filter add dev d0'].join('\n'));
  const r = await run(k, ['tc', '-batch', p]);
  t.is(r.code, 1);
  t.is(r.err.length, 1);
  t.regex(r.err[0], new RegExp(`UNSUPPORTED bogus: ${p}:3: unsupported word 'bogus' at position 13`));
  t.deepEqual(k.sends, [], 'nothing sent');
  const f = await run(new FakeU32(), ['tc', '-force', '-batch', p]);
  t.is(f.code, 1);
  t.is(f.err.length, 3, f.err.join('\n'));
  t.regex(f.err[1], new RegExp(`${p}:4: pktmark tc -batch takes add lines`));
  t.regex(f.err[2], new RegExp(`${p}:5: unsupported word 'tc' at position 1`));
  const missing = await run(k, ['tc', '-b', join(dir, 'nope.tc')]);
  t.is(missing.code, 1);
  t.regex(missing.err[0], /INVALID_ARGUMENT file: cannot open file/);
  t.is((await run(k, ['tc', '-force', 'filter', 'show', 'dev', 'd0'])).code, 2, '-force without -batch is a usage error');
});

test('atomic: all filters in one sendmsg; the first refusal undoes every filter and the qdisc the batch made', async (t) => {
  const k = new FakeU32();
  const p = file('atomic.tc', ['qdisc add dev d0 clsact', F(1, '1'), F(2, '2', 'match ip dport 53 0xffff'), F(3, '0xbad'), F(4, '4')].join('\n'));
  const r = await run(k, ['tc', '-batch', p]);
  t.is(r.code, 1);
  t.is(r.err.length, 1);
  t.regex(r.err[0], new RegExp(`KERNEL: ${p}:4: add tc filter on d0: .*injected refusal`));
  t.deepEqual(k.filters, [], 'no filter left');
  t.is(k.qdiscs.size, 0, 'the qdisc of line 1 is removed too');
  const batch = k.sends.find((s) => s.filter((x) => x === RTM_NEWTFILTER).length > 0)!;
  t.deepEqual(batch, [RTM_NEWTFILTER, RTM_NEWTFILTER, RTM_NEWTFILTER, RTM_NEWTFILTER], 'the four filters went in one exchange');
});

test('atomic success: every line in, one exchange; list shows them', async (t) => {
  const k = new FakeU32();
  const p = file('ok.tc', [F(1, '1'), F(2, '2', 'match ip dport 53 0xffff'), F(3, '3')].join('\n'));
  const r = await run(k, ['--json', 'tc', '-batch', p]);
  t.is(r.code, 0, r.err.join('\n'));
  t.deepEqual(k.marks(), [1, 2, 3]);
  t.is(k.qdiscs.get(3), 'clsact', 'clsact created for the filters');
  t.deepEqual((JSON.parse(r.out[0]) as { added: { line: number }[] }).added.map((a) => a.line), [1, 2, 3]);
  t.is(k.sends.filter((s) => s.includes(RTM_NEWTFILTER)).length, 1);
});

test('-force: the other lines still go in; each failure has its line; nothing is undone', async (t) => {
  const k = new FakeU32();
  const p = file('force.tc', [F(1, '1'), F(2, '0xbad'), F(3, '3'), 'filter add dev nope0 ingress protocol ip prio 4 u32 match u32 0 0 action skbedit mark 4', F(5, '0xbad'), F(6, '6')].join('\n'));
  const r = await run(k, ['tc', '-force', '-batch', p]);
  t.is(r.code, 1);
  t.deepEqual(r.err.map((l) => /:(\d+): /.exec(l)?.[1]), ['2', '4', '5'], r.err.join('\n'));
  t.regex(r.err[1], /NOT_FOUND dev: .*:4: device "nope0" does not exist/);
  t.deepEqual(k.marks(), [1, 3, 6]);
  t.is(k.qdiscs.size, 1);
});

test('-force where no filter of a device goes in: the clsact pktmark made for it is removed', async (t) => {
  const k = new FakeU32();
  const r = await run(k, ['tc', '-force', '-batch', file('none.tc', [F(1, '0xbad'), F(2, '0xbad')].join('\n'))]);
  t.is(r.code, 1);
  t.is(r.err.length, 2);
  t.is(k.qdiscs.size, 0);
});

test('--dry-run --hex prints the messages without a kernel: the batch qdisc, then each filter on it (not pktmark\'s)', async (t) => {
  const p = file('dry.tc', ['qdisc add dev d0 ingress', 'filter add dev d0 parent ffff: protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef'].join('\n'));
  const r = await run(undefined, ['--dry-run', '--hex', '--ifindex', '3', 'tc', '-batch', p]);
  t.is(r.code, 0, r.err.join('\n'));
  t.is(r.out.length, 2);
  const [q, f] = r.out.map((h) => parseMessages(Buffer.from(h, 'hex'))[0]);
  t.is(q.header.type, RTM_NEWQDISC);
  t.is(f.header.type, RTM_NEWTFILTER);
  const filter = decodeFilter(f);
  t.like(filter, { ifindex: 3, parent: 0xffff0000, prio: 1 });
  t.true(r.out[1].includes('706b746d61726b00'), 'owner cookie without the qdisc flag: the qdisc is the batch\'s');
  const text = await run(undefined, ['--dry-run', 'tc', '-batch', file('dry2.tc', [F(1, '1'), F(2, '2')].join('\n'))]);
  t.deepEqual(text.out.filter((l) => l.startsWith('tc qdisc')), ['tc qdisc add dev d0 clsact'], 'one clsact for the device');
  t.is(text.out.length, 3);
});

test('filter show and del act on pktmark\'s filters as tc does: by direction, prio, handle; a foreign filter stays', async (t) => {
  const k = new FakeU32();
  t.is((await run(k, ['tc', '-batch', file('sd.tc', [F(1, '1'), F(2, '2'), F(3, '3'), 'filter add dev d0 egress protocol ip prio 4 u32 match u32 0 0 action skbedit mark 4'].join('\n'))])).code, 0);
  // someone else's filter at prio 7 (no owner cookie)
  const foreign: TcFilter = { ifindex: 3, parent: 0xfffffff2, prio: 7, protocol: 0x0008, handle: 0x80000fff, options: { kind: 'u32', sel: k.filters[0].options!.kind === 'u32' ? k.filters[0].options!.sel! : undefined!, extra: [] } };
  k.filters.push(foreign);
  const show = await run(k, ['tc', 'filter', 'show', 'dev', 'd0', 'ingress']);
  t.is(show.code, 0, show.err.join('\n'));
  t.deepEqual(show.out.map((l) => l.split(' ')[0]), ['tc:d0:ingress:1:800::800', 'tc:d0:ingress:2:800::801', 'tc:d0:ingress:3:800::802']);
  const eg = await run(k, ['tc', '-j', 'filter', 'show', 'dev', 'd0', 'egress']);
  t.is((JSON.parse(eg.out[0]) as { rules: unknown[] }).rules.length, 1);
  t.is((await run(k, ['tc', 'filter', 'del', 'dev', 'd0', 'ingress', 'prio', '2'])).code, 0);
  t.deepEqual(k.marks(), [1, 3, 4]);
  const none = await run(k, ['tc', 'filter', 'del', 'dev', 'd0', 'ingress', 'prio', '9']);
  t.is(none.code, 1);
  t.regex(none.err[0], /NOT_FOUND prio: no pktmark filter on d0 ingress with prio 9/);
  const wrongHandle = await run(k, ['tc', 'filter', 'del', 'dev', 'd0', 'ingress', 'protocol', 'ip', 'prio', '1', 'handle', '800::801', 'u32']);
  t.is(wrongHandle.code, 1);
  t.regex(wrongHandle.err[0], /NOT_FOUND handle: .*prio 1 handle 800::801/);
  t.is((await run(k, ['tc', 'filter', 'del', 'dev', 'd0', 'ingress', 'protocol', 'ip', 'prio', '1', 'handle', '800::800', 'u32'])).code, 0);
  t.deepEqual(k.marks(), [3, 4]);
  t.is((await run(k, ['tc', 'filter', 'del', 'dev', 'd0', 'handle', '800::802', 'ingress'])).code, 2, 'a handle needs its prio, as the kernel says');
  t.is((await run(k, ['tc', 'filter', 'del', 'dev', 'd0', 'ingress'])).code, 0);
  t.deepEqual(k.marks(), [4], 'the egress filter stays');
  t.true(k.filters.includes(foreign), 'the foreign filter stays');
});
