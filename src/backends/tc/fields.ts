/** The rule fields only filters on a device have: the device, its side, the filter priority. */
import { fail, parseDirection, parseIfName, parsePrio, type RuleFields } from '../../rule.js';

export const tcFields: RuleFields<'tc'> = {
  via: 'tc',
  fields: ['dev', 'direction', 'prio'],
  implied: (input) => input.dev !== undefined,
  // u32 `match ip dport` alone is a word compare at offset 20/40, as tc writes it (f_u32.c parse_ip)
  portsWithoutProto: true,
  normalize(input, out) {
    if (input.dev === undefined) fail('INVALID_OPTION', 'dev', 'via "tc" needs dev (the interface the filter sits on)');
    out.dev = parseIfName(input.dev, 'dev', false);
    out.direction = parseDirection(input.direction);
    if (input.prio !== undefined) out.prio = parsePrio(input.prio);
  },
};
