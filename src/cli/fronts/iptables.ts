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
import { protocolName, type AddressMatch, type Hook, type MarkRuleInput } from '../../rule.js';
import type { RuleRecord } from '../../backends/backend.js';
import { PktmarkError } from '../../errors.js';
import { addRules, normalizeAll, withMarker } from '../apply.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { checkGlobal, type GlobalOptions } from '../global.js';
import { helpText } from '../help.js';
import type { Io } from '../io.js';
import { ruleJson, table } from '../output.js';
import { Words } from '../words.js';
import { MATCHES, PORT_PROTOCOLS, TARGETS, type XtExtension, type XtRule } from './xt.js';
import { ruleKey, ruleToInput } from './rule-input.js';

const CHAINS: Readonly<Record<string, Hook>> = { PREROUTING: 'prerouting', OUTPUT: 'output' };
const CHAIN_OF: Readonly<Record<Hook, string>> = { prerouting: 'PREROUTING', output: 'OUTPUT' };
const TABLES = new Set(['raw', 'mangle']);

export type XtCommand =
  | { readonly op: 'append' | 'delete-spec'; readonly hook: Hook; readonly rule: MarkRuleInput }
  | { readonly op: 'insert'; readonly hook: Hook; readonly index: number; readonly rule: MarkRuleInput }
  | { readonly op: 'delete-index'; readonly hook: Hook; readonly index: number }
  | { readonly op: 'flush'; readonly hook?: Hook }
  | { readonly op: 'list'; readonly hook?: Hook; readonly verbose: boolean }
  | { readonly op: 'help' };

const LONG: Readonly<Record<string, string>> = {
  '--table': '-t', '--append': '-A', '--insert': '-I', '--delete': '-D', '--flush': '-F', '--list': '-L',
  '--source': '-s', '--src': '-s', '--destination': '-d', '--dst': '-d', '--protocol': '-p', '--in-interface': '-i',
  '--out-interface': '-o', '--match': '-m', '--jump': '-j', '--numeric': '-n', '--verbose': '-v', '--wait': '-w', '--help': '-h',
};

/** Parse the words after `iptables`/`ip6tables` into one command. Throws UsageError (exit 2) or PktmarkError. */
export function parseIptables(words: readonly string[], family: 'ip' | 'ip6'): XtCommand {
  const w = new Words(words, 1);
  const r: XtRule = { family };
  let op: { name: string; pos: number; hook?: Hook; index?: number } | undefined;
  let negate: number | undefined;
  let verbose = false;
  const loaded: { ext: XtExtension; pos: number }[] = [];
  let target: { ext: XtExtension; pos: number } | undefined;
  let protoPos = 0;

  const chain = (required: boolean): Hook | undefined => {
    const c = w.peek();
    if (c === undefined || (c.startsWith('-') && c !== '-')) {
      if (required) throw new UsageError('INVALID_OPTION', `${w.last} at position ${w.lastPos} needs a chain (PREROUTING or OUTPUT)`, { field: 'chain' });
      return undefined;
    }
    w.take();
    const hook = CHAINS[c];
    if (!hook) throw w.unsupported(c, w.lastPos, `unknown chain: pktmark has PREROUTING and OUTPUT (its own table's hooks)`);
    return hook;
  };
  const index = (): number | undefined => {
    const n = w.peek();
    if (n === undefined || !/^\d+$/.test(n)) return undefined;
    w.take();
    if (Number(n) < 1) throw new UsageError('INVALID_OPTION', `rule number ${n} at position ${w.lastPos} must be 1 or more`, { field: 'rulenum' });
    return Number(n);
  };
  const setOp = (name: string, extra: { hook?: Hook; index?: number } = {}): void => {
    if (op) throw new UsageError('INVALID_OPTION', `'${name}' at position ${w.lastPos}: only one command per line (already ${op.name} at position ${op.pos})`, { field: name });
    op = { name, pos: w.lastPos, ...extra };
  };
  const addressOpt = (field: 'src' | 'dst'): void => {
    const v = w.value(w.last!, 'an address');
    if (r[field] !== undefined) throw new UsageError('INVALID_OPTION', `'${w.words[w.lastPos - 2]}' at position ${w.lastPos - 1}: ${field} is already given`, { field });
    if (v.startsWith('!')) throw w.unsupported(v, w.lastPos, 'write the negation before the option: ! -s ADDR');
    r[field] = negate !== undefined ? `!${v}` : v;
    negate = undefined;
  };

  while (!w.done) {
    const raw = w.take();
    const word = LONG[raw] ?? raw;
    if (negate !== undefined && word !== '-s' && word !== '-d') {
      throw w.unsupported('!', negate, `pktmark supports negation only for -s and -d`);
    }
    switch (word) {
      case '!': negate = w.lastPos; continue;
      case '-t': {
        const t = w.value(raw, 'a table (raw or mangle)');
        if (!TABLES.has(t)) throw w.unsupported(t, w.lastPos, 'pktmark acts on its own table; -t raw and -t mangle both map onto it');
        continue;
      }
      case '-A': setOp('-A', { hook: chain(true)! }); continue;
      case '-I': { setOp('-I'); const hook = chain(true)!; op!.hook = hook; op!.index = index() ?? 1; continue; }
      case '-D': { setOp('-D'); const hook = chain(true)!; op!.hook = hook; const i = index(); if (i !== undefined) op!.index = i; continue; }
      case '-F': { setOp('-F'); const hook = chain(false); if (hook) op!.hook = hook; continue; }
      case '-L': { setOp('-L'); const hook = chain(false); if (hook) op!.hook = hook; continue; }
      case '-h': return { op: 'help' };
      case '-n': continue; // pktmark never resolves names
      case '-v': verbose = true; continue;
      case '-w': if (/^\d+(\.\d+)?$/.test(w.peek() ?? '')) w.take(); continue; // xtables lock wait: nothing to wait for
      case '-s': addressOpt('src'); continue;
      case '-d': addressOpt('dst'); continue;
      case '-p': {
        if (r.proto !== undefined) throw new UsageError('INVALID_OPTION', `-p at position ${w.lastPos}: protocol is already given`, { field: 'proto' });
        const proto = w.value(raw, 'a protocol');
        // -p all (or 0) is iptables' "any protocol": no match
        if (proto.toLowerCase() === 'all' || proto === '0') continue;
        r.proto = proto;
        protoPos = w.lastPos;
        const implicit = PORT_PROTOCOLS[r.proto.toLowerCase()];
        // iptables loads the protocol's match implicitly, so --sport/--dport may follow -p tcp
        if (implicit) loaded.push({ ext: MATCHES[implicit](), pos: w.lastPos });
        continue;
      }
      case '-i': if (r.iif !== undefined) throw new UsageError('INVALID_OPTION', `-i at position ${w.lastPos} is given twice`, { field: 'iif' }); r.iif = w.value(raw, 'an interface'); continue;
      case '-o': if (r.oif !== undefined) throw new UsageError('INVALID_OPTION', `-o at position ${w.lastPos} is given twice`, { field: 'oif' }); r.oif = w.value(raw, 'an interface'); continue;
      case '-m': {
        const name = w.value(raw, 'a match name');
        const make = Object.hasOwn(MATCHES, name) ? MATCHES[name] : undefined;
        if (!make) throw w.unsupported(name, w.lastPos, 'supported matches: limit, comment, tcp, udp, sctp');
        if (PORT_PROTOCOLS[name] && PORT_PROTOCOLS[(r.proto ?? '').toLowerCase()] !== name) {
          throw new UsageError('PORT_WITHOUT_PROTO', `-m ${name} at position ${w.lastPos} needs -p ${name} before it`, { field: '-m', hint: `add -p ${name}` });
        }
        if (!loaded.some((l) => l.ext.name === name)) loaded.push({ ext: make(), pos: w.lastPos });
        continue;
      }
      case '-j': {
        const name = w.value(raw, 'a target');
        const ext = Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
        if (!ext) throw w.unsupported(name, w.lastPos, 'pktmark supports the MARK target only');
        if (target) throw new UsageError('INVALID_OPTION', `-j at position ${w.lastPos - 1}: the target is already given`, { field: '-j' });
        target = { ext, pos: w.lastPos };
        continue;
      }
      default: {
        // an option of a loaded match or of the target (the latest that knows it wins, as in iptables)
        const owner = [...(target ? [target] : []), ...[...loaded].reverse()].find((l) => Object.hasOwn(l.ext.options, raw));
        if (owner) { owner.ext.options[raw](w, r); continue; }
        if (raw === '--sport' || raw === '--dport' || raw === '--source-port' || raw === '--destination-port') {
          throw new UsageError('PORT_WITHOUT_PROTO', `${raw} at position ${w.lastPos} needs -p tcp, udp or sctp before it`, { field: raw, hint: 'add -p tcp (or udp, sctp)' });
        }
        throw w.unsupported(raw, w.lastPos);
      }
    }
  }
  if (negate !== undefined) throw w.unsupported('!', negate, 'a trailing ! negates nothing');
  if (!op) throw new UsageError('INVALID_OPTION', 'no command given: use -A, -I, -D, -F or -L', { field: 'command', hint: 'see pktmark iptables --help' });
  const ruleWords = r.src !== undefined || r.dst !== undefined || r.proto !== undefined || r.iif !== undefined || r.oif !== undefined || loaded.length > 0 || target !== undefined;

  if (op.name === '-F' || op.name === '-L' || (op.name === '-D' && op.index !== undefined)) {
    if (ruleWords) throw new UsageError('INVALID_OPTION', `${op.name} at position ${op.pos} takes no rule options`, { field: op.name });
    if (op.name === '-F') return { op: 'flush', ...(op.hook ? { hook: op.hook } : {}) };
    if (op.name === '-L') return { op: 'list', verbose, ...(op.hook ? { hook: op.hook } : {}) };
    return { op: 'delete-index', hook: op.hook!, index: op.index! };
  }
  if (!target) throw new UsageError('INVALID_OPTION', `${op.name} at position ${op.pos} needs -j MARK --set-mark V[/M]`, { field: '-j' });
  for (const l of loaded) l.ext.finish?.(r, l.pos);
  target.ext.finish?.(r, target.pos);
  void protoPos;
  const { family: fam, ...rest } = r;
  const rule: MarkRuleInput = { via: 'nft', family: fam, hook: op.hook!, ...rest, mark: r.mark! };
  if (op.name === '-A') return { op: 'append', hook: op.hook!, rule };
  if (op.name === '-I') return { op: 'insert', hook: op.hook!, index: op.index ?? 1, rule };
  return { op: 'delete-spec', hook: op.hook!, rule };
}

const hookOf = (rec: RuleRecord): Hook | undefined =>
  rec.rule?.hook ?? (rec.id.startsWith('nft:prerouting:') ? 'prerouting' : rec.id.startsWith('nft:output:') ? 'output' : undefined);

/** nft rules of this front's family (rules without a family match both) in `hook` (or any). */
const inChain = (hook: Hook | undefined, family: 'ip' | 'ip6') => (rec: RuleRecord): boolean =>
  rec.via === 'nft' && (hook === undefined || hookOf(rec) === hook) && (rec.rule?.family === undefined || rec.rule.family === family);


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

function printList(records: readonly RuleRecord[], hook: Hook | undefined, verbose: boolean, g: GlobalOptions, io: Io): void {
  if (g.json) { io.out(JSON.stringify({ rules: records.map(ruleJson) })); return; }
  const tableName = g.table ?? 'pktmark';
  const hooks: Hook[] = hook ? [hook] : ['prerouting', 'output'];
  hooks.forEach((h, i) => {
    if (i > 0) io.out('');
    io.out(`Chain ${CHAIN_OF[h]} (pktmark's table inet ${tableName}, hook ${h})`);
    const header = [...(verbose ? ['pkts', 'bytes'] : []), 'target', 'prot', 'opt', ...(verbose ? ['in', 'out'] : []), 'source', 'destination', ''];
    for (const l of table(header, records.filter((r) => hookOf(r) === h).map((rec) => xtLine(rec, verbose)))) io.out(l);
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
        const rules = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family));
        if (cmd.index > rules.length + 1) {
          throw new PktmarkError('NOT_FOUND', `index of insertion too big: ${CHAIN_OF[cmd.hook]} has ${rules.length} rule(s)`, { field: 'rulenum' });
        }
        const at = rules[cmd.index - 1];
        const added = await m.add(cmd.rule, at ? { before: at.id } : {});
        if (g.json) io.out(JSON.stringify({ rules: [ruleJson(added)] }));
      });
      return EXIT_OK;
    }
    case 'delete-spec': {
      const [want] = await normalizeAll([cmd.rule]);
      const key = ruleKey(want);
      const { normalizeRule } = await import('../../normalize.js');
      await withMarker(g, async (m) => {
        const found = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family)).find((rec) => {
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
        const rules = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family));
        const rec = rules[cmd.index - 1];
        if (!rec) throw new PktmarkError('NOT_FOUND', `${CHAIN_OF[cmd.hook]} has ${rules.length} rule(s); there is no rule ${cmd.index}`, { field: 'rulenum' });
        await m.delete(rec.id);
        if (g.json) io.out(JSON.stringify({ deleted: [rec.id] }));
      });
      return EXIT_OK;
    case 'flush':
      await withMarker(g, async (m) => {
        const ids = (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family)).map((r) => r.id);
        if (ids.length) await m.delete(ids);
        if (g.json) io.out(JSON.stringify({ deleted: ids }));
      });
      return EXIT_OK;
    case 'list': {
      const records = await withMarker(g, async (m) => (await m.list({ via: 'nft' })).filter(inChain(cmd.hook, family)));
      printList(records, cmd.hook, cmd.verbose, g, io);
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
