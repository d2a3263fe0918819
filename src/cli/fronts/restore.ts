/**
 * `pktmark iptables-restore [--noflush|-n] [--test|-t] [-c] [FILE]` and the ip6tables twin: the
 * whole input is one nftables batch (the flush of the named tables' pktmark rules as DELRULEs,
 * then every new rule), so all of it applies or none of it.
 */
import { readFileSync } from 'node:fs';
import type { RuleRecord } from '../../backends/backend.js';
import { chainByName, userChainNft, userChainOf } from '../../backends/nft/chains.js';
import { chainOps } from '../../backends/nft/index.js';
import type { XtTable } from '../../rule.js';
import { dryRunAdd, withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { checkGlobal, type GlobalOptions } from '../global.js';
import type { Io } from '../io.js';
import { parseRestore } from './restore-format.js';
import { listUserChains } from '../../backends/nft/user-chains.js';
import { backendContext } from '../../marker.js';
import { NETLINK_NETFILTER } from '../../transport/transport.js';

export function restoreFront(family: 'ip' | 'ip6') {
  return async (argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> => {
    checkGlobal(g);
    let noflush = false, testOnly = false, counters = false;
    let file: string | undefined;
    argv.forEach((a, i) => {
      if (a === '--noflush' || a === '-n') noflush = true;
      else if (a === '--test' || a === '-t') testOnly = true;
      else if (a === '--counters' || a === '-c') counters = true;
      else if (!a.startsWith('-') && file === undefined) file = a;
      else throw new UsageError('UNSUPPORTED', `unsupported word '${a}' at position ${i + 1}`, { field: a });
    });
    const text = readFileSync(file ?? 0, 'utf8');
    const plan = parseRestore(text, family, { counters });
    if (testOnly) return EXIT_OK;
    if (g.dryRun) {
      if (!noflush) throw new UsageError('UNSUPPORTED', '--dry-run needs --noflush: the flush depends on the kernel\'s current rules', { field: '--dry-run' });
      await dryRunAdd(plan.rules, g, io);
      return EXIT_OK;
    }
    await withMarker(g, async (m) => {
      const tableOf = (nft: string): XtTable | undefined => chainByName(nft)?.table ?? userChainOf(nft)?.table;
      const mine = (rec: RuleRecord): boolean => {
        const t = tableOf(rec.id.split(':')[1] ?? '');
        return rec.via === 'nft' && t !== undefined && plan.tables.includes(t) && (rec.rule?.family === undefined || rec.rule.family === family);
      };
      const declared = plan.chains.map((c) => userChainNft(c.table, c.name));
      // the flush: the named tables' rules, and their user chains the file does not declare (iptables-restore rebuilds them)
      const existing = noflush ? [] : await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table);
      const drop = existing.filter((c) => plan.tables.includes(c.table)).map((c) => userChainNft(c.table, c.name)).filter((n) => !declared.includes(n));
      const replace = noflush ? [] : (await m.list({ via: 'nft' })).filter(mine).map((r) => r.id);
      const withCounters = plan.counters.some((c) => c !== undefined);
      if (plan.rules.length > 0) {
        await m.add(plan.rules, { replace, chains: { create: declared, delete: drop }, ...(withCounters ? { counters: plan.counters } : {}) });
      } else {
        // nothing to add: the flush, then the chains (two batches; the first removes what the second may drop)
        if (replace.length > 0) await m.delete(replace);
        const ops = [...plan.chains.map((chain) => ({ op: 'new' as const, chain })), ...drop.map((n) => ({ op: 'delete' as const, chain: userChainOf(n)! }))];
        await chainOps(backendContext(m), ops);
      }
    });
    return EXIT_OK;
  };
}

/** `pktmark iptables-save [-c]`: pktmark's rules in the iptables-save format, table by table. */
export function saveFront(family: 'ip' | 'ip6') {
  return async (argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> => {
    checkGlobal(g);
    const counters = argv.includes('-c') || argv.includes('--counters');
    const { saveText } = await import('./save-format.js');
    const [records, users] = await withMarker(g, async (m) => [await m.list({ via: 'nft' }), await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table)] as const);
    for (const l of saveText(records, family, counters, users)) io.out(l);
    return EXIT_OK;
  };
}
