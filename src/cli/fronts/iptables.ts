/**
 * `pktmark iptables …` / `pktmark ip6tables …`: the MARK lines of iptables, verbatim, applied to
 * pktmark's own nftables table (never to iptables' tables). The front walks the words like
 * iptables' do_command: options of the command and the rule, `!` before -s/-d, `-m NAME`
 * loading a match whose options follow, `-j MARK` loading the target's options; each match and
 * the target are small parsers in xt.ts. The rule is then checked by normalizeRule like every
 * other rule, and applied in one batch.
 */
import { formatCidr } from '../../../codecs/address.js';
import { formatPortMatch } from '../../ports.js';
import { protocolName, type AddressMatch, type Hook, type MarkRuleInput, type XtTable } from '../../rule.js';
import type { RuleRecord } from '../../backends/backend.js';
import { PktmarkError } from '../../errors.js';
import { addRules, normalizeAll, withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { checkGlobal, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { rulesJson, table } from '../output.js';
import { BASE_CHAINS, chainByName, userChainNft, userChainOf, type BaseChain } from '../../backends/nft/chains.js';
import { deleteProblem, listUserChains, type UserChain } from '../../backends/nft/user-chains.js';
import { chainOps } from '../../backends/nft/index.js';
import { backendContext, type Marker } from '../../marker.js';
import { NETLINK_NETFILTER } from '../../transport/transport.js';
import { formatConnmark } from '../../connmark.js';
import { parseIptables, type XtCommand } from './iptables-parse.js';

const CHAIN_OF: Readonly<Record<Hook, string>> = { prerouting: 'PREROUTING', output: 'OUTPUT' };
import { ruleKey, ruleToInput } from './rule-input.js';

export { parseIptables, type XtCommand } from './iptables-parse.js';

/** The base chain a listed rule is in, from its id (`nft:CHAIN:HANDLE`), decoded or not. */
const baseOf = (rec: RuleRecord): BaseChain | undefined => chainByName(rec.id.split(':')[1] ?? '');
/** The user chain a listed rule is in, from its id. */
const userOf = (rec: RuleRecord): UserChain | undefined => userChainOf(rec.id.split(':')[1] ?? '');

/** Which chains a command means: a hook's built-in chains, one user chain, or (neither) all of them, of `table` or any. */
interface Where { readonly table?: XtTable; readonly hook?: Hook; readonly chain?: string }

/** nft rules of this front's family (rules without a family match both) in the chains `w` means. */
const inChain = (w: Where, family: 'ip' | 'ip6') => (rec: RuleRecord): boolean => {
  const b = baseOf(rec);
  const u = b ? undefined : userOf(rec);
  const at = b ?? u;
  if (rec.via !== 'nft' || at === undefined || (w.table !== undefined && at.table !== w.table)) return false;
  if (w.chain !== undefined ? u?.name !== w.chain : w.hook !== undefined && b?.hook !== w.hook) return false;
  return rec.rule?.family === undefined || rec.rule.family === family;
};

/** iptables' words for a chain in messages. */
const chainName = (w: Where): string => w.chain ?? CHAIN_OF[w.hook ?? 'prerouting'];

/** iptables' "No chain/target/match by that name": a rule command's chain, or its jump, that does not exist. */
async function checkChains(m: Marker, table: XtTable, w: Where, rule?: MarkRuleInput): Promise<UserChain[]> {
  const have = await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table);
  const missing = (name: string): boolean => !have.some((c) => c.table === table && c.name === name);
  if (w.chain !== undefined && missing(w.chain)) throw new PktmarkError('NOT_FOUND', `chain ${w.chain} does not exist in -t ${table}: No chain/target/match by that name`, { field: 'chain', hint: `create it first: -t ${table} -N ${w.chain}` });
  if (rule?.jump !== undefined && rule.jump !== 'RETURN' && missing(rule.jump)) throw new PktmarkError('NOT_FOUND', `-j ${rule.jump}: no chain or target ${rule.jump} in -t ${table}`, { field: 'jump', hint: `create it first: -t ${table} -N ${rule.jump}` });
  return have;
}


function xtLine(rec: RuleRecord, verbose: boolean): string[] {
  const r = rec.rule;
  const prot = r?.proto === undefined ? 'all' : protocolName(r.proto);
  const addr = (a: AddressMatch | undefined, any: string): string => (a ? `${a.negate ? '!' : ''}${formatCidr(a)}` : any);
  const any = r?.family === 'ip6' ? '::/0' : '0.0.0.0/0';
  let extra = '';
  if (r) {
    if (r.sport !== undefined) extra += `spt:${r.sport} `;
    if (r.sports) extra += `spt:${formatPortMatch(r.sports, ":")} `;
    if (r.dport !== undefined) extra += `dpt:${r.dport} `;
    if (r.dports) extra += `dpt:${formatPortMatch(r.dports, ":")} `;
    if (r.rate) extra += `limit: avg ${r.rate.rate}/${r.rate.unit.slice(0, r.rate.unit === 'minute' ? 3 : r.rate.unit === 'second' ? 3 : 4)} burst ${r.rate.burst} `;
    if (r.comment) extra += `/* ${r.comment} */ `;
    const hexm = `0x${r.mark.toString(16)}`;
    if (r.connmark) extra += `CONNMARK ${formatConnmark(r.connmark)}`;
    else if (r.jump !== undefined) extra = extra.trim();
    else if (r.xor) extra += `MARK xset ${hexm}/0x${r.mask.toString(16)}`;
    else extra += r.mask === 0xffffffff ? `MARK set ${hexm}` : `MARK set ${hexm}/0x${r.mask.toString(16)}`;
  } else extra = `(not decoded) ${rec.text}`;
  const target = !r ? '?' : r.connmark ? 'CONNMARK' : r.jump ?? 'MARK';
  const cells = [target, prot, '--', ...(verbose ? [r?.iif ?? '*', r?.oif ?? '*'] : []), addr(r?.src, any), addr(r?.dst, any), extra.trim()];
  return verbose ? [String(rec.packets), String(rec.bytes), ...cells] : cells;
}

function printList(records: readonly RuleRecord[], w: Where, family: 'ip' | 'ip6', users: readonly UserChain[], verbose: boolean, g: GlobalOptions, io: Io): void {
  if (g.json) { io.out(JSON.stringify(rulesJson(records.filter(inChain(w, family))))); return; }
  const tableName = g.table ?? 'pktmark';
  const header = [...(verbose ? ['pkts', 'bytes'] : []), 'target', 'prot', 'opt', ...(verbose ? ['in', 'out'] : []), 'source', 'destination', ''];
  const chains = w.chain !== undefined ? [] : BASE_CHAINS.filter((c) => (w.hook === undefined || c.hook === w.hook) && (w.table === undefined || c.table === w.table));
  chains.forEach((c, i) => {
    if (i > 0) io.out('');
    io.out(`Chain ${CHAIN_OF[c.hook]} (-t ${c.table}; pktmark's table inet ${tableName}, chain ${c.name})`);
    for (const l of table(header, records.filter((r) => baseOf(r) === c).map((rec) => xtLine(rec, verbose)))) io.out(l);
  });
  // user chains: every one of the table when no chain was named, else the one named
  const mine = w.hook !== undefined ? [] : users.filter((c) => (w.table === undefined || c.table === w.table) && (w.chain === undefined || c.name === w.chain));
  mine.forEach((c, i) => {
    if (i > 0 || chains.length > 0) io.out('');
    const refs = records.filter((r) => r.rule?.jump === c.name).length;
    io.out(`Chain ${c.name} (${refs} references; -t ${c.table}; pktmark's table inet ${tableName}, chain ${userChainNft(c.table, c.name)})`);
    for (const l of table(header, records.filter((r) => { const u = userOf(r); return u?.name === c.name && u.table === c.table; }).map((rec) => xtLine(rec, verbose)))) io.out(l);
  });
}

export async function runIptables(cmd: XtCommand, family: 'ip' | 'ip6', g: GlobalOptions, io: Io): Promise<number> {
  if (cmd.op === 'help') { io.out(helpText('iptables')); return EXIT_OK; }
  if (g.dryRun && cmd.op !== 'append' && cmd.op !== 'insert') {
    throw new UsageError('UNSUPPORTED', `--dry-run applies to -A and -I (they only add); -D, -F, -L, -N and -X depend on the kernel's current rules`, { field: '--dry-run' });
  }
  const w: Where = { ...(cmd.table ? { table: cmd.table } : {}), ...(cmd.hook ? { hook: cmd.hook } : {}), ...(cmd.chain !== undefined ? { chain: cmd.chain } : {}) };
  const nftRules = async (m: Marker): Promise<RuleRecord[]> => (await m.list({ via: 'nft' })).filter(inChain(w, family));
  switch (cmd.op) {
    case 'append': case 'insert': {
      // a user chain, or a jump to one, must exist (iptables: No chain/target/match by that name)
      if (!g.dryRun && (cmd.chain !== undefined || (cmd.rule.jump !== undefined && cmd.rule.jump !== 'RETURN'))) {
        await normalizeAll([cmd.rule]);
        await withMarker(g, (m) => checkChains(m, cmd.table, w, cmd.rule));
      }
      // -A, and -I CHAIN [1] at the head of the chain, like nft insert rule (no listing needed, so dry-run works)
      const index = cmd.op === 'insert' && 'index' in cmd ? cmd.index : undefined;
      if (index === undefined || index === 1) {
        await addRules([cmd.rule], g, io, { print: g.json, ...(cmd.op === 'insert' ? { place: { first: true } } : {}) });
        return EXIT_OK;
      }
      if (g.dryRun) {
        throw new UsageError('UNSUPPORTED', `--dry-run applies to -I CHAIN 1 only: inserting at ${index} depends on the kernel's current rules`, { field: '--dry-run' });
      }
      await normalizeAll([cmd.rule]);
      await withMarker(g, async (m) => {
        // -I CHAIN N: just before the rule now at N as -L numbers them (one NEWRULE with a position); N = count + 1 appends
        const rules = await nftRules(m);
        if (index > rules.length + 1) {
          throw new PktmarkError('NOT_FOUND', `index of insertion too big: ${chainName(w)} has ${rules.length} rule(s)`, { field: 'rulenum' });
        }
        const at = rules[index - 1];
        const added = await m.add(cmd.rule, at ? { before: at.id } : {});
        if (g.json) io.out(JSON.stringify(rulesJson([added])));
      });
      return EXIT_OK;
    }
    case 'delete-spec': {
      const [want] = await normalizeAll([cmd.rule]);
      const key = ruleKey(want);
      const { normalizeRule } = await import('../../normalize.js');
      await withMarker(g, async (m) => {
        const found = (await nftRules(m)).find((rec) => {
          if (!rec.rule) return false;
          try { return ruleKey(normalizeRule(ruleToInput(rec.rule))) === key; } catch { return false; }
        });
        if (!found) {
          throw new PktmarkError('NOT_FOUND', `no rule in ${chainName(w)} matches this spec (does a matching rule exist in that chain?)`, { field: 'rule', hint: `see pktmark ${family === 'ip' ? 'iptables' : 'ip6tables'} -L ${chainName(w)}` });
        }
        await m.delete(found.id);
        if (g.json) io.out(JSON.stringify({ deleted: [found.id] }));
      });
      return EXIT_OK;
    }
    case 'delete-index':
      await withMarker(g, async (m) => {
        const rules = await nftRules(m);
        const rec = rules[cmd.index - 1];
        if (!rec) throw new PktmarkError('NOT_FOUND', `${chainName(w)} has ${rules.length} rule(s); there is no rule ${cmd.index}`, { field: 'rulenum' });
        await m.delete(rec.id);
        if (g.json) io.out(JSON.stringify({ deleted: [rec.id] }));
      });
      return EXIT_OK;
    case 'flush':
      await withMarker(g, async (m) => {
        if (cmd.chain !== undefined) await checkChains(m, cmd.table!, w);
        const ids = (await nftRules(m)).map((r) => r.id);
        if (ids.length) await m.delete(ids);
        if (g.json) io.out(JSON.stringify({ deleted: ids }));
      });
      return EXIT_OK;
    case 'list': {
      const [records, users] = await withMarker(g, async (m) => {
        const users = cmd.chain !== undefined ? await checkChains(m, cmd.table!, w) : await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table);
        return [(await m.list({ via: 'nft' })).filter(inChain({}, family)), users] as const;
      });
      printList(records, w, family, users, cmd.verbose, g, io);
      return EXIT_OK;
    }
    case 'new-chain':
      await withMarker(g, async (m) => {
        const have = await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table);
        if (have.some((c) => c.table === cmd.table && c.name === cmd.chain)) throw new PktmarkError('INVALID_OPTION', `chain ${cmd.chain} already exists in -t ${cmd.table}`, { field: 'chain' });
        await chainOps(backendContext(m), [{ op: 'new', chain: { table: cmd.table, name: cmd.chain } }]);
      });
      return EXIT_OK;
    case 'delete-chain':
      await withMarker(g, async (m) => {
        const have = (await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table)).filter((c) => c.table === cmd.table);
        const doomed = cmd.chain === undefined ? have : have.filter((c) => c.name === cmd.chain);
        if (cmd.chain !== undefined && doomed.length === 0) throw new PktmarkError('NOT_FOUND', `chain ${cmd.chain} does not exist in -t ${cmd.table}`, { field: 'chain' });
        const all = await m.list({ via: 'nft' });
        for (const c of doomed) {
          const why = deleteProblem(c, all, doomed);
          if (why) throw new PktmarkError('BUSY', `-X ${c.name}: ${why}`, { field: 'chain' });
        }
        await chainOps(backendContext(m), doomed.map((chain) => ({ op: 'delete' as const, chain })));
      });
      return EXIT_OK;
  }
}

export function iptablesFront(family: 'ip' | 'ip6') {
  return async (argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> => {
    checkGlobal(g);
    return runIptables(parseIptables(argv, family), family, g, io);
  };
}
