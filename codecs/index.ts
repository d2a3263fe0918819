/**
 * `pktmark/codecs`: the pure layer — bytes in, bytes out, no I/O, no Node-only API — usable in
 * any JS runtime, e.g. to build or inspect netlink messages in tests without root.
 */
export { PktmarkError, decodeError, isPktmarkError, type ErrorCode, type PktmarkErrorDetails } from './errors.js';
export * from './address.js';
export * from './netlink/struct.js';
export * from './netlink/attributes.js';
export * from './netlink/message.js';
export * from './netlink/batch.js';
export * as nftables from './nftables/index.js';
export * as tc from './tc/index.js';
export * as scan from './scan.js';
