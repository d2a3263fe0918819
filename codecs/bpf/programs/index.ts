/** Mark programs generated from rule specs, and the config map they read. */
export * from './spec.js';
export { CFG, CONFIG_MAGIC, CONFIG_VALUE_SIZE, CONFIG_VERSION, COMMENT_MAX, PORT_PROTOS, RUNTIME_OFFSETS, decodeConfigValue, encodeConfigValue, rateTiming, validateSpec, type ConfigValue } from './config.js';
export { tcMarkerProgram, type TcMarkerOptions } from './tc-mark.js';
export { tcMetaCopyProgram, xdpMetaProgram, XDP_META_LEN, XDP_META_MAGIC } from './xdp-meta.js';
export { cgroupSockProgram, BPF_SOCK_MARK, CGROUP_SLOT } from './cgroup-sock.js';
export { BUCKET_RETRIES } from './actions.js';
