/**
 * `pktmark iptables-restore [--noflush|-n] [--test|-t] [-c] [FILE]` and the ip6tables twin: the
 * whole input is one nftables batch (the flush of the named tables' pktmark rules as DELRULEs,
 * then every new rule), so all of it applies or none of it.
 */
import { readFileSync } from 'node:fs';
import type { RuleRecord } from '../../backends/backend.js';
import { chainByName, userChainNft, userChainOf } from '../../backends/nft/chains.js';
import { chainOps, nftBackend } from '../../backends/nft/index.js';
import { listUserChains } from '../../backends/nft/user-chains.js';
import type { XtTable } from '../../rule.js';
import { LOST_RACE_ERRNOS } from '../../../codecs/errno.js';
import { PktmarkError } from '../../errors.js';
import { backendContext, type Marker } from '../../marker.js';
import { readGeneration } from '../../apply/state.js';
import { NETLINK_NETFILTER } from '../../transport/transport.js';
import { dryRunAdd, withMarker } from '../apply.js';
import { hex } from '../output.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { checkGlobal, type GlobalOptions } from '../global.js';
import type { Io } from '../io.js';
import { parseRestore } from './restore-format.js';

const restoreHelp = (family: 'ip' | 'ip6'): string => `Usage: pktmark [GLOBAL] ${family === 'ip' ? 'iptables' : 'ip6tables'}-restore [--noflush|-n] [--test|-t] [--counters|-c] [FILE]

Reads the iptables-save format (*raw, *mangle, :CHAIN POLICY [p:b], -A/-I/-N lines, COMMIT) from
FILE or stdin and applies all of it in one nftables batch, or none of it. Without --noflush it
first replaces pktmark's rules in the tables the file names. Global --dry-run [--hex] prints the batch.`;
const saveHelp = (family: 'ip' | 'ip6'): string => `Usage: pktmark [GLOBAL] ${family === 'ip' ? 'iptables' : 'ip6tables'}-save [--counters|-c] [--table|-t raw|mangle]

Prints pktmark's rules in the iptables-save format, table by table (-t: only that one); -c adds
each rule's [packets:bytes].`;

export function restoreFront(family: 'ip' | 'ip6') {
  return async (argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> => {
    if (argv.includes('--help') || argv.includes('-h')) { io.out(restoreHelp(family)); return EXIT_OK; }
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
    // a restore that is sent (or only tested) needs the normalized rules only; a dry run explains the inputs too
    const plan = parseRestore(text, family, { counters, inputs: g.dryRun === true });
    if (testOnly) return EXIT_OK;
    if (g.dryRun) {
      await dryRunRestore(plan, family, noflush, g, io);
      return EXIT_OK;
    }
    await withMarker(g, (m) => restoreInto(m, plan, family, noflush));
    return EXIT_OK;
  };
}

type Plan = ReturnType<typeof parseRestore>;

const tableOf = (nft: string): XtTable | undefined => chainByName(nft)?.table ?? userChainOf(nft)?.table;

/** pktmark's nft rules in the tables a restore names (its flush), for `family`, base and user chains alike. */
function flushed(records: readonly RuleRecord[], plan: Plan, family: 'ip' | 'ip6'): string[] {
  return records.filter((rec) => {
    const t = tableOf(rec.id.split(':')[1] ?? '');
    return rec.via === 'nft' && t !== undefined && plan.tables.includes(t) && (rec.rule?.family === undefined || rec.rule.family === family);
  }).map((r) => r.id);
}

export const RESTORE_RETRIES = 8;

/**
 * Read the generation, then pktmark's rules (the flush), then send one batch guarded by that
 * generation (NFNL_BATCH_GENID): if another writer commits in between, the kernel refuses all of
 * it and the restore reads again and retries, so it is never applied against a stale view (a
 * rule another process added meanwhile is flushed too, as iptables-restore's commit would).
 */
async function restoreInto(m: Marker, plan: Plan, family: 'ip' | 'ip6', noflush: boolean): Promise<void> {
  const t = await backendContext(m).transport(NETLINK_NETFILTER);
  const declared = plan.chains.map((c) => userChainNft(c.table, c.name));
  const withCounters = plan.counters.some((c) => c !== undefined);
  for (let attempt = 0; ; attempt++) {
    const generation = await readGeneration(t);
    const replace = noflush ? [] : flushed(await m.list({ via: 'nft' }), plan, family);
    // the flush also drops the named tables' user chains the file does not declare (iptables-restore rebuilds them)
    const existing = noflush ? [] : await listUserChains(t, m.table);
    const drop = existing.filter((c) => plan.tables.includes(c.table)).map((c) => userChainNft(c.table, c.name)).filter((n) => !declared.includes(n));
    try {
      if (plan.normalized.length > 0) {
        // what Marker.add does with nft rules, less its normalizeRules: parseRestore checked every line with it already
        await nftBackend.add(plan.normalized, backendContext(m), { replace, generation, chains: { create: declared, delete: drop }, ...(withCounters ? { counters: plan.counters } : {}) });
      } else {
        // nothing to add: the flush, then the chains (two batches; the first removes what the second may drop)
        if (replace.length > 0) await m.delete(replace);
        const ops = [...plan.chains.map((chain) => ({ op: 'new' as const, chain })), ...drop.map((n) => ({ op: 'delete' as const, chain: userChainOf(n)! }))];
        await chainOps(backendContext(m), ops);
      }
      return;
    } catch (e) {
      const lost = e instanceof PktmarkError && ((e.errno !== undefined && LOST_RACE_ERRNOS.has(e.errno)) || (plan.normalized.length === 0 && e.code === 'NOT_FOUND'));
      if (!lost) throw e;
      if (attempt + 1 >= RESTORE_RETRIES) {
        throw new PktmarkError('BUSY', `iptables-restore lost the race with other writers ${attempt + 1} times (the ruleset changed between read and commit); nothing was applied`, {
          ...(e.errno !== undefined ? { errno: e.errno } : {}), hint: 'try again; another program is changing the ruleset continuously',
        });
      }
      // a little jitter, so two restores that keep colliding fall out of step
      await new Promise((r) => setTimeout(r, Math.random() * 4 * (attempt + 1)));
    }
  }
}

/**
 * `--dry-run [--hex]`: the one batch the restore would send. Its flush depends on the rules pktmark
 * has now: they are read where this process may (a dump changes nothing); without the right to,
 * the batch is printed as for a namespace without pktmark rules, and stderr says so.
 */
async function dryRunRestore(plan: Plan, family: 'ip' | 'ip6', noflush: boolean, g: GlobalOptions, io: Io): Promise<void> {
  let replace: string[] = [];
  if (!noflush) {
    try {
      replace = await withMarker(g, async (m) => flushed(await m.list({ via: 'nft' }), plan, family));
    } catch (e) {
      if (!(e instanceof PktmarkError)) throw e;
      io.err(`pktmark: note: the flush is left out (pktmark's current rules cannot be read: ${e.code}); this is the batch for a namespace without pktmark rules`);
    }
  }
  if (replace.length === 0) { await dryRunAdd(plan.rules, g, io); return; }
  const { explain } = await import('../../marker.js');
  const table = g.table === undefined ? {} : { table: g.table };
  if (g.hex) {
    let seq = 0;
    const ctx = { table: g.table ?? 'pktmark', nextSeq: () => ++seq };
    // (a restore without rules deletes only: Marker.delete's batch, which encodeAdd does not write)
    const lines = nftBackend.encodeAdd(plan.normalized, ctx, { replace, chains: { create: plan.chains.map((c) => userChainNft(c.table, c.name)) } }).map(hex);
    if (g.json) io.out(JSON.stringify({ dryRun: true, messages: lines })); else for (const l of lines) io.out(l);
    return;
  }
  const tableName = g.table ?? 'pktmark';
  const commands = [
    ...replace.map((id) => { const [, chain, handle] = id.split(':'); return `nft delete rule inet ${tableName} ${chain} handle ${handle}`; }),
    ...plan.rules.map((r) => explain(r, table)),
  ];
  if (g.json) io.out(JSON.stringify({ dryRun: true, commands })); else for (const c of commands) io.out(c);
}

/** `pktmark iptables-save [-c]`: pktmark's rules in the iptables-save format, table by table. */
export function saveFront(family: 'ip' | 'ip6') {
  return async (argv: readonly string[], _base: number, g: GlobalOptions, io: Io): Promise<number> => {
    let counters = false;
    let only: XtTable | undefined;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--help' || a === '-h') { io.out(saveHelp(family)); return EXIT_OK; }
      if (a === '-c' || a === '--counters') { counters = true; continue; }
      // iptables-save -t TABLE / --table=TABLE / -tTABLE (getopt)
      const t = a === '-t' || a === '--table' ? argv[++i] : a.startsWith('--table=') ? a.slice(8) : a.startsWith('-t') && a.length > 2 ? a.slice(2) : undefined;
      if (t === undefined) throw new UsageError('UNSUPPORTED', `unsupported word '${a}' at position ${i + 1}`, { field: a, hint: `see pktmark ${family === 'ip' ? 'iptables' : 'ip6tables'}-save --help` });
      if (t !== 'raw' && t !== 'mangle') throw new UsageError('UNSUPPORTED', `table ${JSON.stringify(t)}: pktmark places rules in raw and mangle only`, { field: '-t' });
      only = t;
    }
    checkGlobal(g);
    const { saveText } = await import('./save-format.js');
    const [records, users] = await withMarker(g, async (m) => [await m.list({ via: 'nft' }), await listUserChains(await backendContext(m).transport(NETLINK_NETFILTER), m.table)] as const);
    for (const l of saveText(records, family, counters, users, only)) io.out(l);
    return EXIT_OK;
  };
}
