/** tc's unmodeled attributes use the shared raw-attribute helpers (codecs/netlink/raw.ts). */
export { rawOf, writeRaw, type RawAttr } from '../netlink/raw.js';
