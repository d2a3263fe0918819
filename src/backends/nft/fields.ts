/** The rule fields only the nft backend has: the chain (hook) and interface matches. */
import { fail, parseHook, parseIfName, type RuleFields } from '../../rule.js';
import { DEFAULT_TABLE } from './chains.js';

export const nftFields: RuleFields = {
  via: 'nft',
  fields: ['hook', 'table', 'iif', 'oif'],
  addressLists: true,
  normalize(input, out) {
    out.hook = parseHook(input.hook);
    if (input.table !== undefined) {
      if (input.table !== 'raw' && input.table !== 'mangle') fail('INVALID_OPTION', 'table', `table ${JSON.stringify(input.table)} is not raw or mangle`);
      // the hook's default table is not written down: one rule, one normalized form
      if (input.table !== DEFAULT_TABLE[out.hook]) out.table = input.table;
    }
    // a bare '+' is iptables' "any interface": no match at all
    if (input.iif !== undefined && input.iif !== '+') {
      if (out.hook === 'output') fail('INVALID_OPTION', 'iif', 'iif cannot be used in the output hook (packets there have no input interface)');
      out.iif = parseIfName(input.iif, 'iif');
    }
    if (input.oif !== undefined && input.oif !== '+') {
      if (out.hook === 'prerouting') fail('INVALID_OPTION', 'oif', 'oif cannot be used in the prerouting hook (the output interface is not chosen yet)', "use hook: 'output'");
      out.oif = parseIfName(input.oif, 'oif');
    }
  },
};
