/**
 * The common restore rule line read straight from the file's text: `-A|-I PREROUTING|OUTPUT`
 * with any of `-s`, `-d` (a canonical IPv4 address or prefix), `-i`, `-o` (a plain interface
 * name) and `-j MARK --set-mark|--set-xmark|--and-mark|--or-mark|--xor-mark V`, each once, values
 * plain, words of printable ASCII between spaces. Such a line gives no error, so the rule and its
 * normalized form are built here as the general path (splitLine, parseIptables, normalizeRule)
 * builds them, key order included, without the words, the command, the XtRule or the address
 * parse of that path: a restore file is 10,000s of these, and their strings and objects were
 * most of its parse and of the garbage it made. Anything else — another option, a repeat, an
 * IPv6 address, a tab, a quote, a counter prefix, an odd value — is declined (false), and the general
 * path reads the line and makes every error. test/cli/restore-quick.test.ts compares the two.
 */
import { canonicalQuadAt, formatIPv4, plainPrefix, quadScan } from '../../../codecs/address.js';
import type { AddressMatch } from '../../addresses.js';
import { DEFAULT_TABLE } from '../../backends/nft/chains.js';
import { Draft, type Hook, type Mark, type Mask, type MarkRule, type MarkRuleInput, type RuleDraft, type XtTable } from '../../rule.js';
import { plainU32 } from './xt.js';

/**
 * The line quickRestoreLine took: its rule as parseIptables makes it (unless it was asked for no
 * input), normalized as normalizeRule makes it, and whether it was -I.
 */
export const quickLine = { rule: undefined as unknown as MarkRuleInput, normalized: undefined as unknown as MarkRule, insert: false };

/**
 * A rule input as ruleInput (xt.ts) starts it — via, family, hook, table — made by `new` so that
 * its later fields fit in the object (as rule.ts's Draft); a plain object, constructor Object.
 */
interface RuleIn { via: 'nft'; family: 'ip' | 'ip6'; hook: Hook; table: XtTable; [k: string]: unknown }
const RuleIn = function (this: RuleIn, family: 'ip' | 'ip6', hook: Hook, table: XtTable) {
  this.via = 'nft'; this.family = family; this.hook = hook; this.table = table;
} as unknown as new (family: 'ip' | 'ip6', hook: Hook, table: XtTable) => RuleIn;
RuleIn.prototype = Object.prototype;

// where the word nextWord found ends
let wordEnd = 0;

/**
 * The next word of t[i, to) (words are cut at spaces): its start, with its end in wordEnd, or -1
 * at the end of the line. The search for the word's end is indexOf's (native at every tier: this
 * runs for 10,000s of lines before the JIT has optimised anything), not a loop per character, and
 * the words are not kept in an array (its loads and stores were a call each before the JIT).
 * A word may then hold what splitLine and trim() would treat otherwise (a tab, a quote, a CR,
 * other whitespace, non-ASCII): no such word passes the checks below (keywords and chains
 * compared whole, addresses, prefixes and marks digit by digit, interface names printable ASCII
 * without a quote), so such a line is declined, and a line that is taken has only spaces between
 * words that are printable ASCII: splitPlain's words, and nothing for trim() to take.
 */
function nextWord(t: string, i: number, to: number): number {
  while (i < to && t.charCodeAt(i) === 32) i++;
  if (i >= to) return -1;
  const end = t.indexOf(' ', i);
  wordEnd = end < 0 || end > to ? to : end;
  return i;
}

/** The MARK options by length and third character, in markForm's order (xt.ts): 0 set-xmark, 1 set-mark, 2 and-mark, 3 or-mark, 4 xor-mark. */
const MARK_WORDS = ['--set-xmark', '--set-mark', '--and-mark', '--or-mark', '--xor-mark'];
function markOp(t: string, from: number, to: number): number {
  const len = to - from;
  const c = t.charCodeAt(from + 2);
  const k = len === 11 ? 0 : len === 9 ? 3 : len !== 10 ? -1 : c === 115 ? 1 : c === 97 ? 2 : c === 120 ? 4 : -1;
  return k >= 0 && t.startsWith(MARK_WORDS[k], from) ? k : -1;
}

/** -s/-d's value as parseAddressMatch makes it, for a canonical `a.b.c.d` or `a.b.c.d/p`; undefined for anything else. */
function address(t: string, from: number, to: number, text: string): AddressMatch | undefined {
  const q = canonicalQuadAt(t, from, to);
  if (q < 0) return undefined;
  const end = quadScan.end;
  // canonicalIPv4: the text is the address
  if (end === to) return { family: 'ip', address: text, prefix: 32, negate: false };
  if (t.charCodeAt(end) !== 47) return undefined;
  const prefix = plainPrefix(t, end + 1, to);
  if (prefix < 0) return undefined;
  // canonicalIPv4Prefix: host bits cleared
  if (prefix === 32) return { family: 'ip', address: text.slice(0, end - from), prefix, negate: false };
  const v = prefix === 0 ? 0 : (q & (0xffffffff << (32 - prefix))) >>> 0;
  return { family: 'ip', address: formatIPv4(Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255)), prefix, negate: false };
}

/**
 * An interface name parseIfName takes as it is: 1-15 bytes of printable ASCII (no whitespace, no
 * quote: splitLine's), not . or .., no / or :, + only last.
 */
function plainIfName(t: string, from: number, to: number): boolean {
  const n = to - from;
  if (n > 15 || (t.charCodeAt(from) === 46 && (n === 1 || (n === 2 && t.charCodeAt(from + 1) === 46)))) return false;
  for (let i = from; i < to; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 34 || c === 47 || c === 58 || (c === 43 && i !== to - 1)) return false;
  }
  return true;
}

/**
 * Read the rule line t[from, to) of `table` the quick way: true with quickLine filled in, or false
 * (nothing changed) when the general path must read it.
 */
export function quickRestoreLine(t: string, from: number, to: number, table: XtTable, family: 'ip' | 'ip6', input = true): boolean {
  // the command and its chain first (a restore line starts with it), then option-value pairs
  const cs = nextWord(t, from, to);
  if (cs < 0 || wordEnd - cs !== 2 || t.charCodeAt(cs) !== 45) return false;
  const op = t.charCodeAt(cs + 1);
  if (op !== 65 && op !== 73) return false; // A, I
  const hs = nextWord(t, wordEnd, to);
  const chainLen = wordEnd - hs;
  const hook: Hook | undefined = hs < 0 ? undefined : chainLen === 10 ? 'prerouting' : chainLen === 6 ? 'output' : undefined;
  if (hook === undefined || !t.startsWith(hook === 'prerouting' ? 'PREROUTING' : 'OUTPUT', hs)) return false;
  let src: AddressMatch | undefined, dst: AddressMatch | undefined;
  let srcText: string | undefined, dstText: string | undefined, iif: string | undefined, oif: string | undefined;
  let target = false;
  let how = -1, x = 0, m = -1;
  // the order the fields came in (ruleInput keeps it): 1 src, 2 dst, 3 iif, 4 oif, 5 mark; three bits each
  let order = 0, shift = 0;
  for (let i = wordEnd; ;) {
    const ws = nextWord(t, i, to);
    if (ws < 0) break;
    const we = wordEnd;
    const vs = nextWord(t, we, to);
    if (vs < 0) return false;
    const ve = i = wordEnd;
    // a value that starts with - or ! is getopt's to judge (an option, a negation)
    const v0 = t.charCodeAt(vs);
    if (v0 === 45 || v0 === 33) return false;
    const c = we - ws === 2 && t.charCodeAt(ws) === 45 ? t.charCodeAt(ws + 1) : 0;
    if (c === 115 || c === 100) { // -s, -d
      if (family !== 'ip' || (c === 115 ? srcText : dstText) !== undefined) return false;
      const text = t.slice(vs, ve);
      const a = address(t, vs, ve, text);
      if (a === undefined) return false;
      if (c === 115) { src = a; srcText = text; order |= 1 << shift; } else { dst = a; dstText = text; order |= 2 << shift; }
    } else if (c === 105 || c === 111) { // -i, -o
      if ((c === 105 ? iif : oif) !== undefined || hook === (c === 105 ? 'output' : 'prerouting') || !plainIfName(t, vs, ve)) return false;
      if (c === 105) { iif = t.slice(vs, ve); order |= 3 << shift; } else { oif = t.slice(vs, ve); order |= 4 << shift; }
    } else if (c === 106) { // -j
      if (target || ve - vs !== 4 || !t.startsWith('MARK', vs)) return false;
      target = true;
      continue;
    } else {
      const f = markOp(t, ws, we);
      if (f < 0 || !target || how >= 0) return false;
      // plainMarkValue: V, or V/M for the two set forms
      let slash = vs;
      while (slash < ve && t.charCodeAt(slash) !== 47) slash++;
      x = plainU32(t, vs, slash);
      if (x < 0) return false;
      if (slash < ve) {
        if (f > 1) return false;
        m = plainU32(t, slash + 1, ve);
        if (m < 0) return false;
      }
      how = f;
      order |= 5 << shift;
    }
    shift += 3;
  }
  if (how < 0) return false;
  // markForm (xt.ts)
  const value = how === 2 ? 0 : x;
  const mask = how === 0 ? (m < 0 ? 0xffffffff : m) : how === 1 ? (m < 0 ? 0xffffffff : (m | x) >>> 0) : how === 2 ? ~x >>> 0 : how === 3 ? x : 0;
  const xor = how === 0 || how === 4;

  if (input) {
    const rule = new RuleIn(family, hook, table);
    for (let o = order; o !== 0; o >>>= 3) {
      switch (o & 7) {
        case 1: rule.src = srcText; break;
        case 2: rule.dst = dstText; break;
        case 3: rule.iif = iif; break;
        case 4: rule.oif = oif; break;
        default:
          rule.mark = value; rule.mask = mask;
          if (xor) rule.xor = true;
      }
    }
    quickLine.rule = rule as unknown as MarkRuleInput;
  }
  // normalizeFields with the nft backend's normalize, for these fields
  const out: RuleDraft = new Draft('nft');
  if (src) out.src = src;
  if (dst) out.dst = dst;
  out.family = family;
  out.hook = hook;
  if (table !== DEFAULT_TABLE[hook]) out.table = table;
  // a bare '+' is iptables' "any interface": no match at all
  if (iif !== undefined && iif !== '+') out.iif = iif as MarkRule['iif'];
  if (oif !== undefined && oif !== '+') out.oif = oif as MarkRule['oif'];
  out.mark = value as Mark;
  out.mask = mask as Mask;
  // parseMarkSpec keeps xor only where it changes bits outside the mask
  if (xor && (value & ~mask) >>> 0) out.xor = true;
  quickLine.normalized = out as MarkRule;
  quickLine.insert = op === 73;
  return true;
}
