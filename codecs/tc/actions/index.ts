import { AttributeReader, nestedReader, NLA_F_NESTED, type Attribute, type AttributeWriter } from '../../netlink/attributes.js';
import { AttributeDecoder, type Draft } from '../../netlink/attribute-decoder.js';
import { HOST_LITTLE_ENDIAN } from '../../netlink/struct.js';
import { decodeError } from '../../errors.js';
import {
  TCA_ACT_COOKIE, TCA_ACT_INDEX, TCA_ACT_KIND, TCA_ACT_OPTIONS, TCA_ACT_STATS, TCA_STATS_BASIC, TCA_STATS_PKT64,
  TC_COOKIE_MAX_SIZE,
} from '../constants.js';
import { writeRaw, type RawAttr } from '../raw.js';
import { police, type PoliceOptions } from './police.js';
import { skbedit, type SkbeditOptions } from './skbedit.js';
import type { ActionCodec, ActionStats, RawActionOptions } from './types.js';

/** Registry: the kernel's action name → codec. A new action is a new file plus one line here. */
const ACTIONS = { skbedit, police } as const;
type Codecs = typeof ACTIONS;
/** the decoded options of each registered kind */
export type KnownActionOptions = { [K in keyof Codecs]: ReturnType<Codecs[K]['decode']> }[keyof Codecs];
export type ActionOptions = KnownActionOptions | RawActionOptions;
export type ActionKind = keyof Codecs;
// each entry is the codec of the kind its key names (a compile-time check, no runtime cost)
ACTIONS satisfies { readonly [K in keyof Codecs]: ActionCodec<Extract<KnownActionOptions, { readonly kind: K }>> };

const codecOf = (kind: string): ActionCodec<KnownActionOptions> | undefined =>
  (Object.prototype.hasOwnProperty.call(ACTIONS, kind) ? ACTIONS[kind as ActionKind] as ActionCodec<KnownActionOptions> : undefined);

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
  // begin/end nests, no closures: a bulk add writes an action list per filter
  for (const a of actions) {
    const at = w.beginNested();
    w.string(TCA_ACT_KIND, actionKind(a));
    const o = a.options;
    if (o.kind === 'raw') {
      w.bytes(TCA_ACT_OPTIONS | NLA_F_NESTED, o.data);
    } else {
      const opts = w.beginNested();
      codecOf(o.kind)!.encode(o, w);
      w.endNested(opts, TCA_ACT_OPTIONS, true);
    }
    if (a.cookie !== undefined) {
      if (a.cookie.length === 0 || a.cookie.length > TC_COOKIE_MAX_SIZE) w.fail(`action cookie must be 1-${TC_COOKIE_MAX_SIZE} bytes`, 'cookie');
      w.bytes(TCA_ACT_COOKIE, a.cookie);
    }
    if (a.index !== undefined) w.u32(TCA_ACT_INDEX, a.index);
    if (a.extra) for (const x of a.extra) writeRaw(w, x);
    w.endNested(at, a.order, false);
  }
}

function decodeStats(r: AttributeReader): ActionStats {
  const d = new AttributeDecoder(r);
  let basic: { bytes: number; packets: number } | undefined, pkt64: number | undefined;
  for (const type of d) {
    // struct gnet_stats_basic { u64 bytes; u32 packets; } (16 bytes with tail padding; some kernels send 12)
    if (type === TCA_STATS_BASIC) basic = d.payload(decodeStatsBasic);
    else if (type === TCA_STATS_PKT64 && d.attribute.data.length === 8) pkt64 = Number(d.u64());
  }
  d.finish();
  return { packets: pkt64 ?? basic?.packets ?? 0, bytes: basic?.bytes ?? 0 };
}
function decodeStatsBasic(b: Uint8Array, at: number): { bytes: number; packets: number } {
  if (b.length < 12) throw decodeError(`gnet_stats_basic needs 12 bytes, has ${b.length}`, at);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { bytes: Number(v.getBigUint64(0, HOST_LITTLE_ENDIAN)), packets: v.getUint32(8, HOST_LITTLE_ENDIAN) };
}

/** One action's envelope: TCA_ACT_KIND names the codec for TCA_ACT_OPTIONS, wherever it sits. */
function decodeAction(order: number, r: AttributeReader): TcAction {
  const d = new AttributeDecoder(r);
  const a: Partial<Draft<TcAction>> = { order };
  let kind: string | undefined, optionsAttr: Attribute | undefined;
  for (const type of d) {
    switch (type) {
      case TCA_ACT_KIND: kind = d.string(); break;
      case TCA_ACT_OPTIONS: optionsAttr = d.attribute; break;
      case TCA_ACT_COOKIE: a.cookie = d.bytes(); break;
      case TCA_ACT_INDEX: a.index = d.u32(); break;
      case TCA_ACT_STATS: a.stats = d.nested(decodeStats); break;
      default: d.keep();
    }
  }
  d.require(kind, `action ${order} without TCA_ACT_KIND`);
  d.finish();
  const codec = codecOf(kind!);
  a.options = codec && optionsAttr ? codec.decode(nestedReader(optionsAttr)) : { kind: 'raw', name: kind!, data: optionsAttr?.data.slice() ?? new Uint8Array(0) };
  if (d.extra.length) a.extra = d.extra;
  return a as TcAction;
}

/** Reads an action list; kinds without a codec keep their options as raw bytes. */
export function decodeActions(r: AttributeReader): TcAction[] {
  const d = new AttributeDecoder(r);
  const out: TcAction[] = [];
  for (const order of d) {
    const action = d.nested((inner) => decodeAction(order, inner));
    if (action) out.push(action);
  }
  d.finish();
  return out;
}

export { skbedit, police };
export type { SkbeditOptions, PoliceOptions, RawActionOptions, ActionStats };
