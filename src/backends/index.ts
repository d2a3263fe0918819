/**
 * The backend registry (the kernel's tcf_proto_ops list, iproute2's f_*.c by name): one table
 * from the `via` word to the backend. `Via`, the CLI's --via words, id routing, list, clear and
 * doctor's probes all come from it — a new backend is one folder and one line here.
 * Order matters: a rule without `via` goes to the first backend whose `implied` says so, else
 * to DEFAULT_VIA; list and clear visit the backends in this order.
 */
import type { Backend } from './backend.js';
import { nftBackend } from './nft/index.js';
import { tcBackend } from './tc/index.js';
import { bpfBackend } from './bpf/index.js';
import { xdpBackend } from './xdp/index.js';
import { cgroupBackend } from './cgroup/index.js';

export const BACKENDS = {
  nft: nftBackend,
  tc: tcBackend,
  bpf: bpfBackend,
  xdp: xdpBackend,
  cgroup: cgroupBackend,
} as const;
// each entry is the backend its key names: `via` is checked against the key at compile time
BACKENDS satisfies { readonly [K in keyof typeof BACKENDS]: Backend<K> };

export type Via = keyof typeof BACKENDS;
export const VIAS = Object.keys(BACKENDS) as readonly Via[];
export const DEFAULT_VIA: Via = 'nft';

export const isVia = (v: unknown): v is Via => typeof v === 'string' && Object.prototype.hasOwnProperty.call(BACKENDS, v);
export const backendOf = (via: Via): Backend => BACKENDS[via];

/** "nft, tc or bpf", for messages */
export const viaWords = (sep = ', ', last = ' or '): string => VIAS.length < 2 ? VIAS.join('') : `${VIAS.slice(0, -1).join(sep)}${last}${VIAS.at(-1)}`;
