import type { AttributeReader, AttributeWriter } from '../../netlink/attributes.js';
import type { RawAttr } from '../raw.js';

/**
 * One action file per kind (skbedit.ts, police.ts …), each an ActionCodec registered by the
 * kernel's name in actions/index.ts. A codec handles only what goes inside TCA_ACT_OPTIONS;
 * the surrounding TCA_ACT_* envelope (kind, cookie, stats) is actions/index.ts's job.
 */
export interface ActionCodec<O extends { readonly kind: string }> {
  readonly kind: O['kind'];
  encode(o: O, w: AttributeWriter): void;
  decode(r: AttributeReader): O;
}

/** tc_gen: the common head of every action's parms struct (linux/pkt_cls.h), host order. */
export interface TcGen {
  index: number;
  capab: number;
  action: number;
  refcnt: number;
  bindcnt: number;
}

/** Options of an action kind pktmark has no codec for: the TCA_ACT_OPTIONS payload, kept whole. */
export interface RawActionOptions {
  readonly kind: 'raw';
  /** the TCA_ACT_KIND string the kernel reported */
  readonly name: string;
  readonly data: Uint8Array;
}

export interface ActionStats {
  readonly packets: number;
  readonly bytes: number;
}

export type { RawAttr };
