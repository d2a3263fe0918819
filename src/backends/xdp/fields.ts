/** The xdp backend's fields: the device only. XDP sees packets arriving on it, so ingress only. */
import { fail, parseDirection, parseIfName, type RuleFields } from '../../rule.js';

export const xdpFields: RuleFields<'xdp'> = {
  via: 'xdp',
  fields: ['dev', 'direction'],
  normalize(input, out) {
    if (input.dev === undefined) fail('INVALID_OPTION', 'dev', 'via "xdp" needs dev (the interface whose arriving packets are marked)');
    out.dev = parseIfName(input.dev, 'dev', false);
    if (input.direction !== undefined && parseDirection(input.direction) !== 'ingress') {
      fail('UNSUPPORTED', 'direction', 'via "xdp" runs on packets arriving on the device only (XDP has no egress hook)', "use via: 'bpf' with direction: 'egress'");
    }
  },
};
