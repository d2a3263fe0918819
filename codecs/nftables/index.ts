/** nftables over nfnetlink: pure encoders and decoders (no I/O). */
export * from './messages.js';
export * from './userdata.js';
export * from './expr/index.js';
export * from './set.js';
export * from './set-intervals.js';
export { lookup, NFT_LOOKUP_F_INV } from './expr/lookup.js';
