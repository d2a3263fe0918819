/** The read-only codecs of the live mark scan (src/conflicts/): one namespace per kernel subsystem. */
export * as rtnetlinkRule from './rtnetlink/rule.js';
export * as sockdiag from './sockdiag/inet-diag.js';
export * as xfrm from './xfrm/xfrm.js';
export * as genl from './genl/genl.js';
export * as ipvs from './genl/ipvs.js';
export * as wireguard from './genl/wireguard.js';
export * as xtInfo from './nftables/xt-info.js';
export { decodeConnmarkAction, type ConnmarkAction } from './tc/actions/connmark.js';
export { decodeCtinfoAction, type CtinfoAction } from './tc/actions/ctinfo.js';
