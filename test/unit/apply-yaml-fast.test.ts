/** The fast reader of desired-state files (src/apply/yaml-fast.ts) reads exactly what `yaml` reads, or declines. */
import test from 'ava';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseFast } from '../../src/apply/yaml-fast.js';
import { DesiredLines, parseDesired } from '../../src/apply/index.js';

const values = ['10.0.0.1', '10.0.0.0/24', 'fd00::1', '!10.0.0.1', '"!10.0.0.1"', "'x y'", '"a,b"', '0x10', '0xdeadbeef', '16', '-1', '+3', '007', '1.5', '1e3',
  '.inf', '0o17', 'null', '~', 'true', 'False', 'yes', 'on', 'udp', 'eth0+', '1/second', '5/min', 'a: b', '&a x', '*a', '"esc\\n"', '- x', '@x', '`x', '%x',
  'web-1', 'x#y', 'x #c', '"#"', "''", '""', '[1]', '{a: 1}', '|', '>', '?x', 'x:y', ':x', '-', '1:2', '0b1', '12345678901234567890'];
const keys = ['src', 'dst', 'mark', 'name', 'comment', 'proto', 'dport', 'rate', 'burst', 'hook'];
const item = fc.tuple(fc.boolean(), fc.array(fc.tuple(fc.constantFrom(...keys), fc.constantFrom(...values)), { minLength: 1, maxLength: 4 }), fc.constantFrom(0, 2));
const file = fc.tuple(fc.array(item, { minLength: 1, maxLength: 5 }), fc.boolean()).map(([items, comments]) => 'rules:\n' + items.map(([flow, kv, ind]) => {
  const pad = ' '.repeat(ind);
  if (flow) return `${pad}- {${kv.map(([k, v]) => `${k}: ${v}`).join(', ')}}${comments ? '  # c' : ''}`;
  return kv.map(([k, v], i) => `${i === 0 ? `${pad}- ` : `${pad}  `}${k}: ${v}`).join('\n') + (comments ? '\n# between' : '');
}).join('\n') + '\n');

test('fast reader = yaml, or it declines (generated files with tricky scalars)', (t) => {
  let taken = 0;
  fc.assert(fc.property(file, (text) => {
    const fast = parseFast(text);
    if (fast === undefined) return true;
    taken++;
    let want: unknown;
    try { want = parse(text, { uniqueKeys: true }); } catch (e) { t.fail(`fast read a file yaml refuses:\n${text}\n${String(e)}`); return false; }
    t.deepEqual({ rules: fast.map((f) => f.input) }, want, text);
    return true;
  }), { numRuns: 3000 });
  t.true(taken > 100, `the fast path was taken ${taken} times`);
});

test('lines from the fast reader match the yaml path', (t) => {
  const text = 'rules:\n  # a comment\n  - {name: a, src: 10.0.0.1, mark: 1}\n\n  - name: b\n    src: 10.0.0.2\n    dport: 99999\n    proto: udp\n    mark: 2\n';
  t.truthy(parseFast(text));
  t.throws(() => parseDesired(text, 'f.yaml'), { message: /rule 1 \(name "b", f\.yaml:7\): dport 99999/ });
  t.throws(() => parseDesired(text.replace('# a comment', '# a comment\n  # &anchor'), 'f.yaml'), { message: /f\.yaml:8/ });
});

/** parseDesired with DesiredLines (the agent's): the same rules, or the same error, as a fresh parse. */
const outcome = (f: () => unknown): unknown => { try { return { ok: f() }; } catch (e) { return { error: (e as Error).message, json: (e as { toJSON?: () => unknown }).toJSON?.() }; } };
const validItem = fc.tuple(fc.constantFrom('', 'name: a, ', 'name: b, ', 'comment: x, '), fc.constantFrom('10.0.0.1', '10.0.0.2', 'fd00::1', '300.0.0.1'), fc.constantFrom('1', '0x10', 'auto', 'x'), fc.constantFrom('', '  # c'), fc.constantFrom(2, 2, 2, 0))
  .map(([n, src, mark, c, ind]) => `${' '.repeat(ind)}- {${n}src: ${src}, mark: ${mark}}${c}`);
const lineFile = fc.array(validItem, { minLength: 1, maxLength: 6 }).map((ls) => `rules:\n${ls.join('\n')}\n`);

test('DesiredLines: a parse that reuses the last parse\'s lines gives what a fresh parse gives, rules and errors', (t) => {
  fc.assert(fc.property(fc.array(fc.oneof(lineFile, file), { minLength: 2, maxLength: 4 }), (texts) => {
    const lines = new DesiredLines();
    for (const text of texts) {
      const fresh = outcome(() => parseDesired(text, 'f.yaml'));
      const reused = outcome(() => parseDesired(text, 'f.yaml', lines));
      t.deepEqual(reused, fresh, text);
    }
    return true;
  }), { numRuns: 500 });
});

test('DesiredLines: unchanged lines give the same rule objects', (t) => {
  const lines = new DesiredLines();
  const a = parseDesired('rules:\n  - {src: 10.0.0.1, mark: 1}\n  - {name: w, src: 10.0.0.2, mark: 2}\n', undefined, lines);
  const b = parseDesired('rules:\n  - {src: 10.0.0.3, mark: 1}\n  - {name: w, src: 10.0.0.2, mark: 2}\n  - {src: 10.0.0.1, mark: 1}\n', undefined, lines);
  t.is(b.rules[1].rule, a.rules[1].rule);
  t.is(b.rules[2].rule, a.rules[0].rule);
  t.is(b.rules[2].line, 4);
  t.is(b.rules[2].index, 2);
  t.not(b.rules[0].rule, a.rules[0].rule);
  t.throws(() => parseDesired('rules:\n  - {name: w, src: 10.0.0.2, mark: 2}\n  - {name: w, src: 10.0.0.2, mark: 2}\n', 'f.yaml', lines), { message: /rule 1 \(name "w", f\.yaml:3\).*already used by rule 0/ });
});
