import { attr, AttributeReader, nestedReader, NLA_F_NESTED, type AttributeWriter } from '../../netlink/attributes.js';
import { HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';
import { decodeError } from '../../errors.js';
import {
  TCA_ACT_COOKIE, TCA_ACT_INDEX, TCA_ACT_KIND, TCA_ACT_OPTIONS, TCA_ACT_STATS, TCA_STATS_BASIC, TCA_STATS_PKT64,
  TC_COOKIE_MAX_SIZE,
} from '../constants.js';
import { rawOf, writeRaw, type RawAttr } from '../raw.js';
import { police, type PoliceOptions } from './police.js';
import { skbedit, type SkbeditOptions } from './skbedit.js';
import type { ActionCodec, ActionStats, RawActionOptions } from './types.js';

export type ActionOptions = SkbeditOptions | PoliceOptions | RawActionOptions;

/** Registry: the kernel's action name → codec. A new action is a new file plus one line here. */
const CODECS: ReadonlyMap<string, ActionCodec<SkbeditOptions> | ActionCodec<PoliceOptions>> = new Map<string, ActionCodec<SkbeditOptions> | ActionCodec<PoliceOptions>>([
  [skbedit.kind, skbedit],
  [police.kind, police],
]);

/** One element of a classifier's action list (TCA_U32_ACT, TCA_BPF_ACT …). */
export interface TcAction {
  /** the nest type: the action's position, 1-based, as tc numbers them */
  readonly order: number;
  readonly options: ActionOptions;
  /** TCA_ACT_COOKIE: up to 16 opaque bytes the kernel stores and reports back */
  readonly cookie?: Uint8Array;
  /** TCA_ACT_INDEX (dumps) */
  readonly index?: number;
  /** from TCA_ACT_STATS (dumps) */
  readonly stats?: ActionStats;
  /** other TCA_ACT_* attributes of a dump (flags, hw stats, tm …), kept */
  readonly extra?: readonly RawAttr[];
}

export const actionKind = (a: Pick<TcAction, 'options'>): string => (a.options.kind === 'raw' ? a.options.name : a.options.kind);

/**
 * Writes an action list the way iproute2's m_action.c does: one nest per action, its type the
 * order; inside, TCA_ACT_KIND, then TCA_ACT_OPTIONS — the ONLY nest in a tc filter message that
 * iproute2 marks NLA_F_NESTED (it uses addattr_nest for it) — then TCA_ACT_COOKIE.
 */
export function encodeActions(w: AttributeWriter, actions: readonly TcAction[]): void {
  for (const a of actions) {
    w.nested(a.order, () => {
      w.string(TCA_ACT_KIND, actionKind(a));
      const o = a.options;
      if (o.kind === 'raw') {
        w.bytes(TCA_ACT_OPTIONS | NLA_F_NESTED, o.data);
      } else {
        const codec = CODECS.get(o.kind) as ActionCodec<typeof o>;
        w.nested(TCA_ACT_OPTIONS, () => codec.encode(o, w), true);
      }
      if (a.cookie !== undefined) {
        if (a.cookie.length === 0 || a.cookie.length > TC_COOKIE_MAX_SIZE) w.fail(`action cookie must be 1-${TC_COOKIE_MAX_SIZE} bytes`, 'cookie');
        w.bytes(TCA_ACT_COOKIE, a.cookie);
      }
      if (a.index !== undefined) w.u32(TCA_ACT_INDEX, a.index);
      for (const x of a.extra ?? []) writeRaw(w, x);
    }, false);
  }
}

function decodeStats(r: AttributeReader): ActionStats {
  let packets = 0, bytes = 0, pkt64: number | undefined;
  for (const a of r) {
    if (a.type === TCA_STATS_BASIC) {
      // struct gnet_stats_basic { u64 bytes; u32 packets; } (16 bytes with tail padding; some kernels send 12)
      if (a.data.length < 12) throw decodeError(`gnet_stats_basic needs 12 bytes, has ${a.data.length}`, a.offset);
      const v = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
      bytes = Number(v.getBigUint64(0, HOST_LITTLE_ENDIAN));
      packets = v.getUint32(8, HOST_LITTLE_ENDIAN);
    } else if (a.type === TCA_STATS_PKT64 && a.data.length === 8) {
      pkt64 = Number(attr.u64(a));
    }
  }
  return { packets: pkt64 ?? packets, bytes };
}

/** Reads an action list; kinds without a codec keep their options as raw bytes. */
export function decodeActions(r: AttributeReader): TcAction[] {
  const out: TcAction[] = [];
  for (const nest of r) {
    let kind: string | undefined;
    let optionsAttr: ReturnType<typeof rawOf> & { offset: number } | undefined;
    let optionsReader: AttributeReader | undefined;
    let cookie: Uint8Array | undefined, index: number | undefined, stats: ActionStats | undefined;
    const extra: RawAttr[] = [];
    for (const a of nestedReader(nest)) {
      switch (a.type) {
        case TCA_ACT_KIND: kind = attr.string(a); break;
        case TCA_ACT_OPTIONS: optionsAttr = { ...rawOf(a), offset: a.offset }; optionsReader = nestedReader(a); break;
        case TCA_ACT_COOKIE: cookie = attr.bytes(a); break;
        case TCA_ACT_INDEX: index = attr.u32(a); break;
        case TCA_ACT_STATS: stats = decodeStats(nestedReader(a)); break;
        default: extra.push(rawOf(a));
      }
    }
    if (kind === undefined) throw decodeError(`action ${nest.type} without TCA_ACT_KIND`, nest.offset);
    const codec = CODECS.get(kind);
    let options: ActionOptions;
    if (codec && optionsReader) options = codec.decode(optionsReader);
    else options = { kind: 'raw', name: kind, data: optionsAttr?.data ?? new Uint8Array(0) };
    out.push({
      order: nest.type, options,
      ...(cookie === undefined ? {} : { cookie }),
      ...(index === undefined ? {} : { index }),
      ...(stats === undefined ? {} : { stats }),
      ...(extra.length ? { extra } : {}),
    });
  }
  return out;
}

export { skbedit, police };
export type { SkbeditOptions, PoliceOptions, RawActionOptions, ActionStats };
