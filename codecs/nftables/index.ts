/** nftables over nfnetlink: pure encoders and decoders (no I/O). */
export * from './messages.js';
export * from './userdata.js';
export * from './expr/index.js';
