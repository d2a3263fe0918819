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
import { protocolName, type AddressMatch, type Hook, type XtTable } from '../../rule.js';
import type { RuleRecord } from '../../backends/backend.js';
import { PktmarkError } from '../../errors.js';
import { addRules, normalizeAll, withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { checkGlobal, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { rulesJson, table } from '../output.js';
import { BASE_CHAINS, chainByName, type BaseChain } from '../../backends/nft/chains.js';
import { parseIptables, type XtCommand } from './iptables-parse.js';

const CHAIN_OF: Readonly<Record<Hook, string>> = { prerouting: 'PREROUTING', output: 'OUTPUT' };
import { ruleKey, ruleToInput } from './rule-input.js';

export { parseIptables, type XtCommand } from './iptables-parse.js';

/** The base chain a listed rule is in, from its id (`nft:CHAIN:HANDLE`), decoded or not. */
const baseOf = (rec: RuleRecord): BaseChain | undefined => chainByName(rec.id.split(':')[1] ?? '');

/** nft rules of this front's family (rules without a family match both) in `hook` and `table` (or any). */
const inChain = (hook: Hook | undefined, family: 'ip' | 'ip6', table?: XtTable) => (rec: RuleRecord): boolean => {
  const c = baseOf(rec);
  return rec.via === 'nft' && c !== undefined && (hook === undefined || c.hook === hook) && (table === undefined || c.table === table)
    && (rec.rule?.family === undefined || rec.rule.family === family);
};


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
    if (r.xor) extra += `MARK xset ${hexm}/0x${r.mask.toString(16)}`;
    else extra += r.mask === 0xffffffff ? `MARK set ${hexm}` : `MARK set ${hexm}/0x${r.mask.toString(16)}`;
  } else extra = `(not decoded) ${rec.text}`;
  const cells = [r ? 'MARK' : '?', prot, '--', ...(verbose ? [r?.iif ?? '*', r?.oif ?? '*'] : []), addr(r?.src, any), addr(r?.dst, any), extra.trim()];
  return verbose ? [String(rec.packets), String(rec.bytes), ...cells] : cells;
}

function printList(records: readonly RuleRecord[], hook: Hook | undefined, xtTable: XtTable | undefined, verbose: boolean, g: GlobalOptions, io: Io): void {
  if (g.json) { io.out(JSON.stringify(rulesJson(records))); return; }
  const tableName = g.table ?? 'pktmark';
  const chains = BASE_CHAINS.filter((c) => (hook === undefined || c.hook === hook) && (xtTable === undefined || c.table === xtTable));
  chains.forEach((c, i) => {
    if (i > 0) io.out('');
    io.out(`Chain ${CHAIN_OF[c.hook]} (-t ${c.table}; pktmark's table inet ${tableName}, chain ${c.name})`);
    const header = [...(verbose ? ['pkts', 'bytes'] : []), 'target', 'prot', 'opt', ...(verbose ? ['in', 'out'] : []), 'source', 'destination', ''];
    for (const l of table(header, records.filter((r) => baseOf(r) === c).map((rec) => xtLine(rec, verbose)))) io.out(l);
  });
}

export async function runIptables(cmd: XtCommand, family: 'ip' | 'ip6', g: GlobalOptions, io: Io): Promise<number> {
  if (cmd.op === 'help') { io.out(helpText('iptables')); return EXIT_OK; }
  if (g.dryRun && cmd.op !== 'append' && cmd.op !== 'insert') {
    throw new UsageError('UNSUPPORTED', `--dry-run applies to -A and -I (they only add); -D, -F and -L depend on the kernel's current rules`, { field: '--dry-run' });
  }
  switch (cmd.op) {
    case 'append':
      await addRules([cmd.rule], g, io, { print: g.json });
      return EXIT_OK;
    case 'insert': {
      // -I CHAIN [1]: at the head of the chain, like nft insert rule (no listing needed, so dry-run works)
      if (cmd.index === 1) { await addRules([cmd.rule], g, io, { print: g.json, place: { first: true } }); return EXIT_OK; }
      if (g.dryRun) {
        throw new UsageError('UNSUPPORTED', `--dry-run applies to -I CHAIN 1 only: inserting at ${cmd.index} depends on the kernel's current rules`, { field: '--dry-run' });
      }
      await normalizeAll([cmd.rule]);
      await withMarker(g, async (m) => {
        // -I CHAIN N: just before the rule now at N as -L numbers them (one NEWRULE with a position); N = count + 1 appends
        const rules = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family, cmd.table));
        if (cmd.index > rules.length + 1) {
          throw new PktmarkError('NOT_FOUND', `index of insertion too big: ${CHAIN_OF[cmd.hook]} has ${rules.length} rule(s)`, { field: 'rulenum' });
        }
        const at = rules[cmd.index - 1];
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
        const found = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family, cmd.table)).find((rec) => {
          if (!rec.rule) return false;
          try { return ruleKey(normalizeRule(ruleToInput(rec.rule))) === key; } catch { return false; }
        });
        if (!found) {
          throw new PktmarkError('NOT_FOUND', `no rule in ${CHAIN_OF[cmd.hook]} matches this spec (does a matching rule exist in that chain?)`, { field: 'rule', hint: `see pktmark ${family === 'ip' ? 'iptables' : 'ip6tables'} -L ${CHAIN_OF[cmd.hook]}` });
        }
        await m.delete(found.id);
        if (g.json) io.out(JSON.stringify({ deleted: [found.id] }));
      });
      return EXIT_OK;
    }
    case 'delete-index':
      await withMarker(g, async (m) => {
        const rules = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family, cmd.table));
        const rec = rules[cmd.index - 1];
        if (!rec) throw new PktmarkError('NOT_FOUND', `${CHAIN_OF[cmd.hook]} has ${rules.length} rule(s); there is no rule ${cmd.index}`, { field: 'rulenum' });
        await m.delete(rec.id);
        if (g.json) io.out(JSON.stringify({ deleted: [rec.id] }));
      });
      return EXIT_OK;
    case 'flush':
      await withMarker(g, async (m) => {
        const ids = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family, cmd.table)).map((r) => r.id);
        if (ids.length) await m.delete(ids);
        if (g.json) io.out(JSON.stringify({ deleted: ids }));
      });
      return EXIT_OK;
    case 'list': {
      const records = await withMarker(g, async (m) => (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family, cmd.table)));
      printList(records, cmd.hook, cmd.table, cmd.verbose, g, io);
      return EXIT_OK;
    }
  }
}

export function iptablesFront(family: 'ip' | 'ip6') {
  return async (argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> => {
    checkGlobal(g);
    return runIptables(parseIptables(argv, family), family, g, io);
  };
}
