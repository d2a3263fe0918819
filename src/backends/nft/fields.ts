/** The rule fields only the nft backend has: the chain (hook, or a user chain), interface matches and the connmark/jump statements. */
import { fail, parseHook, parseIfName, type RuleFields } from '../../rule.js';
import { checkNoMark, parseConnmark } from '../../connmark.js';
import { DEFAULT_TABLE, userChainProblem } from './chains.js';

function userChain(v: unknown, field: string): string {
  if (typeof v !== 'string') return fail('INVALID_OPTION', field, `${field} must be a chain name`);
  const why = userChainProblem(v);
  if (why) fail('INVALID_OPTION', field, why);
  return v;
}

export const nftFields: RuleFields<'nft'> = {
  via: 'nft',
  fields: ['hook', 'table', 'iif', 'oif', 'connmark', 'chain', 'jump'],
  addressLists: true,
  normalize(input, out) {
    if (input.table !== undefined && input.table !== 'raw' && input.table !== 'mangle') fail('INVALID_OPTION', 'table', `table ${JSON.stringify(input.table)} is not raw or mangle`);
    if (input.chain !== undefined) {
      // a user chain runs wherever its jumps are: it has no hook of its own, but it has a table
      if (input.hook !== undefined) fail('INVALID_OPTION', 'hook', 'a rule in a user-defined chain has no hook (the rules that jump to it decide)');
      if (input.table === undefined) fail('INVALID_OPTION', 'table', `user-defined chain ${String(input.chain)} belongs to a table: give table raw or mangle`);
      out.chain = userChain(input.chain, 'chain');
      out.table = input.table;
    } else {
      out.hook = parseHook(input.hook);
      // the hook's default table is not written down: one rule, one normalized form
      if (input.table !== undefined && input.table !== DEFAULT_TABLE[out.hook]) out.table = input.table;
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
    if (input.connmark !== undefined && input.jump !== undefined) fail('INVALID_OPTION', 'jump', 'a rule has one statement: connmark or jump, not both');
    if (input.connmark !== undefined) {
      checkNoMark(input);
      out.connmark = parseConnmark(input.connmark);
    }
    if (input.jump !== undefined) {
      checkNoMark(input);
      out.jump = input.jump === 'RETURN' ? 'RETURN' : userChain(input.jump, 'jump');
    }
  },
};
