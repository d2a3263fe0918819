/** The scanner registry: one module per place marks are used; a new source is one file and one line here. */
import { ipRuleScanner } from './ip-rule.js';
import { ipvsScanner } from './ipvs.js';
import { nftScanner } from './nft.js';
import { socketScanner } from './sockets.js';
import { tcScanner } from './tc.js';
import type { Scanner } from './types.js';
import { wireguardScanner } from './wireguard.js';
import { xfrmScanner } from './xfrm.js';

export const SCANNERS = {
  nft: nftScanner,
  tc: tcScanner,
  'ip-rule': ipRuleScanner,
  xfrm: xfrmScanner,
  ipvs: ipvsScanner,
  wireguard: wireguardScanner,
  socket: socketScanner,
} as const satisfies Readonly<Record<string, Scanner>>;

export type ScanSource = keyof typeof SCANNERS;
export const SCAN_SOURCES = Object.keys(SCANNERS) as ScanSource[];
