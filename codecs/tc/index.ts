/** tc over rtnetlink: pure encoders and decoders (no I/O). */
export * from './constants.js';
export * from './tcmsg.js';
export * from './raw.js';
export * from './link.js';
export * from './qdisc.js';
export * from './filter.js';
export * from './actions/index.js';
export type { ActionCodec, TcGen } from './actions/types.js';
export { tcSkbedit, TCA_SKBEDIT_MARK, TCA_SKBEDIT_MASK, TCA_SKBEDIT_PARMS } from './actions/skbedit.js';
export { tcPolice, emptyTcPolice, pktBurstTicks, pktBurstPackets, type TcPolice } from './actions/police.js';
export * from './classifiers/index.js';
export * from './classifiers/u32.js';
export * from './classifiers/u32-match.js';
