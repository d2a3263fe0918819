/**
 * Terminal-safe text: what pktmark prints can hold strings from the command line and from the
 * kernel (comments, interface and table names another tool wrote), and a raw control character
 * in them would reach the user's terminal — `ESC [` rewrites the screen, a C1 CSI (U+009B) does
 * the same on terminals that honour 8-bit controls, and the bidi overrides make a line read
 * differently from what it holds (the "Trojan Source" trick).
 *
 * One function, `escapeControls`, used at every point text leaves (cli/io.ts `terminalIo` wraps
 * the output stream; cli/output.ts `table` escapes each cell, and explain each comment):
 *   C0 (U+0000–U+001F) and DEL  → `\t` `\n` `\r`, else `\xHH` (text) / `\u00HH` (JSON, where C0
 *                                 is already escaped by JSON.stringify and only DEL remains)
 *   C1 (U+0080–U+009F)          → `\u0085`
 *   bidi controls U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, and the line/paragraph
 *   separators U+2028/U+2029   → `\u202e` …
 * Everything else, non-ASCII letters included, is printed as it is. Backslashes are not doubled:
 * the output is for reading, not for parsing back (that is what --json is for).
 */

// One character class for all of them; kept as a RegExp literal so it is compiled once.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

const hex2 = (c: number): string => c.toString(16).padStart(2, '0');
const u4 = (c: number): string => `\\u${c.toString(16).padStart(4, '0')}`;

export type EscapeMode = 'text' | 'json';

/**
 * `s` with every control character escaped. `keep` lists characters a caller prints on purpose
 * (the line breaks of multi-line help, say); a field from the user or the kernel keeps none.
 */
export function escapeControls(s: string, mode: EscapeMode = 'text', keep = ''): string {
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(s)) return s; // the common case: nothing to do, no copy
  return s.replace(UNSAFE, (ch) => {
    if (keep.includes(ch)) return ch;
    const c = ch.charCodeAt(0);
    if (mode === 'json' || c >= 0x80) return u4(c);
    return NAMED[ch] ?? `\\x${hex2(c)}`;
  });
}

/** A field (comment, name, word the user typed) for a text line: nothing kept, tabs and newlines included. */
export const safeField = (s: string): string => escapeControls(s, 'text');
