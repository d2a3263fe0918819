/**
 * The common iptables rule line without getopt: `[-t TABLE] -A|-I PREROUTING|OUTPUT` with any of
 * `-s`, `-d`, `-i`, `-o` and `-j MARK --set-mark|--set-xmark|--and-mark|--or-mark|--xor-mark V`,
 * each once, as separate words, values plain. A restore file is mostly such lines, and walking
 * them through getopt and the extension tables was most of their parse. Anything else (another
 * option or spelling, `!`, a glued or `=` value, a value that starts with `-`, a repeat, a user
 * chain, a rule number, an unusual mark) is left to parseIptables, which also makes every
 * error: this path only takes lines that parseIptables would take, and builds the same command.
 */
import type { Hook, XtTable } from '../../rule.js';
import { DEFAULT_TABLE } from '../../backends/nft/chains.js';
import type { XtCommand } from './iptables-parse.js';
import { plainMarkValue, ruleInput, setMarkForm, takesMask, type MarkOp, type XtRule } from './xt.js';


export function quickCommand(words: readonly string[], family: 'ip' | 'ip6'): XtCommand | undefined {
  const r: XtRule = { family };
  let table: XtTable | undefined;
  let op: 'append' | 'insert' | undefined;
  let hook: Hook | undefined;
  let target = false;
  for (let i = 0; i < words.length; i += 2) {
    const w = words[i];
    const v = words[i + 1];
    // (getopt would take a value starting with '-' or '!' too; such lines are rare enough to leave)
    if (v === undefined || v === '' || v.charCodeAt(0) === 45 || v.charCodeAt(0) === 33) return undefined;
    switch (w) {
      case '-t':
        if (table !== undefined || (v !== 'raw' && v !== 'mangle')) return undefined;
        table = v;
        break;
      case '-A': case '-I': {
        if (op !== undefined) return undefined;
        op = w === '-A' ? 'append' : 'insert';
        hook = v === 'PREROUTING' ? 'prerouting' : v === 'OUTPUT' ? 'output' : undefined;
        if (hook === undefined) return undefined;
        // -I CHAIN N: getopt takes the next word as the rule number unless it is an option
        const n = words[i + 2];
        if (op === 'insert' && n !== undefined && (n.charCodeAt(0) !== 45 || n === '-')) return undefined;
        break;
      }
      case '-s': case '-d': {
        const f = w === '-s' ? 'src' : 'dst';
        if (r[f] !== undefined || v.includes(',')) return undefined;
        r[f] = v;
        break;
      }
      case '-i': case '-o': {
        const f = w === '-i' ? 'iif' : 'oif';
        if (r[f] !== undefined) return undefined;
        r[f] = v;
        break;
      }
      case '-j':
        if (target || v !== 'MARK') return undefined;
        target = true;
        break;
      case '--set-mark': case '--set-xmark': case '--and-mark': case '--or-mark': case '--xor-mark':
        if (!target || r.mark !== undefined || !setMark(r, w, v)) return undefined;
        break;
      default:
        return undefined;
    }
  }
  if (op === undefined || hook === undefined || r.mark === undefined) return undefined;
  if ((hook === 'output' && r.iif !== undefined) || (hook === 'prerouting' && r.oif !== undefined)) return undefined;
  const rule = ruleInput(r, { hook }, table);
  const tb = table ?? DEFAULT_TABLE[hook];
  return op === 'append' ? { op, table: tb, hook, rule } : { op, table: tb, hook, index: 1, rule };
}

/** libxt_MARK's five forms as markTarget writes them (xt.ts), for plain values only. */
function setMark(r: XtRule, how: MarkOp, v: string): boolean {
  const p = plainMarkValue(v);
  if (!p) return false;
  const [x, m] = p;
  if (m !== undefined && !takesMask(how)) return false;
  setMarkForm(r, how, x, m);
  return true;
}
