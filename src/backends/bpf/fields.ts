/** The bpf backend's fields: the device its program sits on, the side, and the filter's prio. */
import { fail, parseDirection, parseIfName, parsePrio, type RuleFields } from '../../rule.js';

export const bpfFields: RuleFields<'bpf'> = {
  via: 'bpf',
  fields: ['dev', 'direction', 'prio'],
  normalize(input, out) {
    if (input.dev === undefined) fail('INVALID_OPTION', 'dev', 'via "bpf" needs dev (the interface the cls_bpf program sits on)');
    out.dev = parseIfName(input.dev, 'dev', false);
    out.direction = parseDirection(input.direction);
    if (input.prio !== undefined) out.prio = parsePrio(input.prio);
  },
};
