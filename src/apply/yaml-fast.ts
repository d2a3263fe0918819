/**
 * A fast reader for the plain shape desired-state files almost always have — `rules:` and a list
 * of one-line flow maps (`- {src: 10.0.0.1, mark: 1}`) or block maps of scalars — because the
 * `yaml` package takes seconds for 10,000 rules on a loaded machine and the agent re-reads the
 * file on every change. It accepts only what it can read exactly as `yaml` would (YAML 1.2 core
 * schema: null, booleans, decimal and 0x integers, plain and simply quoted strings); anything
 * else — anchors, tags, escapes, floats, nested values, duplicate keys, other keys — returns
 * undefined and the caller uses `yaml`. test/unit/apply-yaml-fast.test.ts checks it against
 * `yaml` on generated files.
 */
export interface FastItem<K = true> {
  readonly input: Record<string, unknown>;
  readonly line: number;
  readonly fieldLines: ReadonlyMap<string, number>;
  /** a one-line flow map's line, as it is in the file: what DesiredLines knows it by */
  readonly flow?: string;
  /** what `known(flow)` gave for a line read before: input and fieldLines are left empty */
  readonly known?: K;
}

const NO_LINES: ReadonlyMap<string, number> = new Map();
/** the input of every known line (never read, never written) */
const NO_INPUT: Record<string, unknown> = Object.freeze({});

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
// a plain scalar that cannot be a tag, anchor, alias, block scalar, directive or flow indicator
const PLAIN = /^[A-Za-z0-9_./+=^~][A-Za-z0-9_.:/+\-=@^~!]*$|^-[0-9]+$/;

/** YAML 1.2 core schema resolution of a plain scalar, or undefined when it is a form we leave to `yaml`. */
function plain(v: string): unknown {
  if (/^(null|Null|NULL|~)$/.test(v)) return null;
  if (/^(true|True|TRUE)$/.test(v)) return true;
  if (/^(false|False|FALSE)$/.test(v)) return false;
  if (/^[-+]?[0-9]+$/.test(v)) { const n = Number(v); return Number.isSafeInteger(n) ? n : undefined; }
  if (/^0x[0-9a-fA-F]+$/.test(v)) { const n = Number(v); return Number.isSafeInteger(n) ? n : undefined; }
  // floats, octal, infinities, NaN, and anything a number parser might read: yaml's business
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^0o[0-7]+$|^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/.test(v)) return undefined;
  return v;
}

function scalar(raw: string): { ok: true; value: unknown } | { ok: false } {
  const v = raw.trim();
  if (v === '') return { ok: false };
  if (v.startsWith('"')) return /^"[^"\\]*"$/.test(v) ? { ok: true, value: v.slice(1, -1) } : { ok: false };
  if (v.startsWith("'")) return /^'[^']*'$/.test(v) ? { ok: true, value: v.slice(1, -1) } : { ok: false };
  if (!PLAIN.test(v)) return { ok: false };
  const p = plain(v);
  return p === undefined ? { ok: false } : { ok: true, value: p };
}

/** `key: value` → [key, value], or undefined. */
function pair(text: string): [string, unknown] | undefined {
  const i = text.indexOf(': ');
  if (i < 0) return undefined;
  const k = text.slice(0, i).trim();
  if (!KEY.test(k)) return undefined;
  const s = scalar(text.slice(i + 2));
  return s.ok ? [k, s.value] : undefined;
}

/** Strip a comment: ` #…` outside quotes (the only quotes we accept have no escapes). */
function uncomment(line: string): string {
  let q: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) { if (c === q) q = undefined; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || line[i - 1] === ' ')) return line.slice(0, i);
  }
  return line;
}

/** How much trimStart would remove from a known line (`  - {…}`), counted without the copy it makes; other leading white space the slow way. */
function leadingSpaces(line: string): number {
  let i = 0;
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  return line.charCodeAt(i) === 45 /* - */ ? i : line.length - line.trimStart().length;
}

/**
 * `known`: whether a one-line flow-map item of exactly this line was read (and validated) before;
 * such a line is not read again (what it says does not depend on the lines around it, only
 * whether its indent matches theirs).
 */
export function parseFast<K = true>(text: string, known?: (flow: string) => K | undefined): FastItem<K>[] | undefined {
  const lines = text.split('\n');
  let i = 0;
  const skip = (): void => { while (i < lines.length && uncomment(lines[i]).trim() === '') i++; };
  skip();
  if (i >= lines.length || uncomment(lines[i]).trimEnd() !== 'rules:') return undefined;
  i++;
  const items: FastItem<K>[] = [];
  let indent: number | undefined;
  let cur: { input: Record<string, unknown>; line: number; fieldLines: Map<string, number>; keyIndent: number; flow?: string } | undefined;
  const add = (c: typeof cur, k: string, v: unknown, line: number): boolean => {
    if (!c || Object.hasOwn(c.input, k)) return false; // duplicate keys: yaml's error to report
    c.input[k] = v; c.fieldLines.set(k, line); return true;
  };
  for (; i < lines.length; i++) {
    const k = known?.(lines[i]);
    if (k !== undefined) {
      // a flow-map item read before: only its indent, which must match its neighbours', is checked
      const lead = leadingSpaces(lines[i]);
      if (indent === undefined) indent = lead;
      if (lead !== indent) return undefined;
      items.push({ input: NO_INPUT, line: i + 1, fieldLines: NO_LINES, flow: lines[i], known: k });
      cur = undefined;
      continue;
    }
    const raw = uncomment(lines[i]).trimEnd();
    if (raw.trim() === '') continue;
    if (raw.includes('\t')) return undefined;
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trimStart();
    if (body.startsWith('- ') || body === '-') {
      if (indent === undefined) indent = lead;
      if (lead !== indent) return undefined;
      const rest = body.slice(1).trim();
      cur = { input: {}, line: i + 1, fieldLines: new Map(), keyIndent: lead + 2 };
      items.push(cur);
      if (rest.startsWith('{')) {
        if (!rest.endsWith('}')) return undefined;
        cur.flow = lines[i];
        const inner = rest.slice(1, -1).trim();
        if (inner !== '') {
          if (/[{}[\]]/.test(inner)) return undefined;
          for (const part of inner.split(',')) {
            const p = pair(part.trim());
            if (!p || !add(cur, p[0], p[1], i + 1)) return undefined;
          }
        }
        cur = undefined; // a flow map is one line
        continue;
      }
      if (rest === '') return undefined;
      const p = pair(rest);
      if (!p || !add(cur, p[0], p[1], i + 1)) return undefined;
      continue;
    }
    if (!cur || lead !== cur.keyIndent) return undefined;
    const p = pair(body);
    if (!p || !add(cur, p[0], p[1], i + 1)) return undefined;
  }
  if (indent === undefined) return undefined; // `rules:` alone (null) or `rules: []`: yaml's
  return items;
}
