import { structPart, type AttributeReader, type AttributeWriter } from '../../netlink/attributes.js';
import { AttributeDecoder, type Draft } from '../../netlink/attribute-decoder.js';
import { defineStruct } from '../../netlink/struct.js';
import { writeRaw, type RawAttr } from '../raw.js';
import type { ActionCodec } from './types.js';

/** enum TCA_POLICE_* (linux/pkt_cls.h) */
export const TCA_POLICE_TBF = 1;
export const TCA_POLICE_RATE = 2;
export const TCA_POLICE_PEAKRATE = 3;
export const TCA_POLICE_AVRATE = 4;
export const TCA_POLICE_RESULT = 5;
export const TCA_POLICE_TM = 6;
export const TCA_POLICE_PAD = 7;
export const TCA_POLICE_RATE64 = 8;
export const TCA_POLICE_PEAKRATE64 = 9;
export const TCA_POLICE_PKTRATE64 = 10;
export const TCA_POLICE_PKTBURST64 = 11;

/**
 * struct tc_police (linux/pkt_cls.h), 56 bytes, host order. `action` is the verdict for packets
 * ABOVE the rate (tc's "exceed" action); the verdict for conforming packets travels separately in
 * TCA_POLICE_RESULT. The two tc_ratespec members are flattened here (cell_log, linklayer,
 * overhead, cell_align, mpu, rate).
 */
export interface TcPolice {
  index: number; action: number; limit: number; burst: number; mtu: number;
  rateCellLog: number; rateLinklayer: number; rateOverhead: number; rateCellAlign: number; rateMpu: number; rate: number;
  peakCellLog: number; peakLinklayer: number; peakOverhead: number; peakCellAlign: number; peakMpu: number; peakrate: number;
  refcnt: number; bindcnt: number; capab: number;
}
export const tcPolice = defineStruct<TcPolice>('tc_police', [
  { name: 'index', type: 'u32' }, { name: 'action', type: 'i32' }, { name: 'limit', type: 'u32' },
  { name: 'burst', type: 'u32' }, { name: 'mtu', type: 'u32' },
  { name: 'rateCellLog', type: 'u8' }, { name: 'rateLinklayer', type: 'u8' }, { name: 'rateOverhead', type: 'u16' },
  { name: 'rateCellAlign', type: 'u16' }, { name: 'rateMpu', type: 'u16' }, { name: 'rate', type: 'u32' },
  { name: 'peakCellLog', type: 'u8' }, { name: 'peakLinklayer', type: 'u8' }, { name: 'peakOverhead', type: 'u16' },
  { name: 'peakCellAlign', type: 'u16' }, { name: 'peakMpu', type: 'u16' }, { name: 'peakrate', type: 'u32' },
  { name: 'refcnt', type: 'i32' }, { name: 'bindcnt', type: 'i32' }, { name: 'capab', type: 'u32' },
]);

export const emptyTcPolice = (): TcPolice => ({
  index: 0, action: 0, limit: 0, burst: 0, mtu: 0,
  rateCellLog: 0, rateLinklayer: 0, rateOverhead: 0, rateCellAlign: 0, rateMpu: 0, rate: 0,
  peakCellLog: 0, peakLinklayer: 0, peakOverhead: 0, peakCellAlign: 0, peakMpu: 0, peakrate: 0,
  refcnt: 0, bindcnt: 0, capab: 0,
});

export interface PoliceOptions {
  readonly kind: 'police';
  readonly tbf: TcPolice;
  /** TCA_POLICE_RESULT: verdict for conforming packets (TC_ACT_PIPE to run the next action) */
  readonly result?: number;
  /** packets per second (TCA_POLICE_PKTRATE64) */
  readonly pktRate?: bigint;
  /** burst as psched ticks (TCA_POLICE_PKTBURST64), see pktBurstTicks */
  readonly pktBurst?: bigint;
  readonly extra: readonly RawAttr[];
}

/**
 * The packet burst travels as the time the bucket needs to refill `burst` packets at `rate`
 * packets/s, in psched ticks (the kernel converts with PSCHED_TICKS2NS: 1 tick = 64 ns, so
 * 15.625 ticks per µs; /proc/net/psched's first two words, 1000 and 64). iproute2 computes it as
 * tc_calc_xmittime(rate, burst) = 1e6 µs × burst / rate × 15.625, truncated to an integer.
 */
export function pktBurstTicks(rate: number, burst: number): bigint {
  return BigInt(Math.trunc((1e6 * burst / rate) * 15.625));
}
/** The inverse, rounded to whole packets. */
export function pktBurstPackets(rate: bigint, ticks: bigint): number {
  if (rate === 0n) return 0;
  return Math.round(Number(ticks) * Number(rate) / 15.625e6);
}

/** Attribute order as iproute2's m_police.c writes it: TBF, RESULT, PKTRATE64, PKTBURST64. */
export const police: ActionCodec<PoliceOptions> = {
  kind: 'police',
  encode(o: PoliceOptions, w: AttributeWriter): void {
    w.structs(TCA_POLICE_TBF, [structPart(tcPolice, o.tbf)]);
    if (o.result !== undefined) w.i32(TCA_POLICE_RESULT, o.result);
    if (o.pktRate !== undefined) w.u64(TCA_POLICE_PKTRATE64, o.pktRate);
    if (o.pktBurst !== undefined) w.u64(TCA_POLICE_PKTBURST64, o.pktBurst);
    for (const x of o.extra) writeRaw(w, x);
  },
  decode(r: AttributeReader): PoliceOptions {
    const d = new AttributeDecoder(r);
    const o: Partial<Draft<PoliceOptions>> = { kind: 'police' };
    for (const type of d) {
      switch (type) {
        case TCA_POLICE_TBF: o.tbf = d.struct(tcPolice); break;
        case TCA_POLICE_RESULT: o.result = d.i32(); break;
        case TCA_POLICE_PKTRATE64: o.pktRate = d.u64(); break;
        case TCA_POLICE_PKTBURST64: o.pktBurst = d.u64(); break;
        default: d.keep();
      }
    }
    d.require(o.tbf, 'police without TCA_POLICE_TBF');
    d.finish();
    o.extra = d.extra;
    return o as PoliceOptions;
  },
};
