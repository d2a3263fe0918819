/**
 * Terminal-safe output: the escaping table, and the CLI's output points (errors, list, iptables -L)
 * never carrying a raw control character, in text and in JSON.
 */
import test from 'ava';
import { escapeControls } from '../../src/terminal-text.js';
import { table } from '../../src/cli/output.js';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';

// [input, text output, JSON output (escapeControls over JSON.stringify)]
const TABLE: readonly (readonly [string, string, string])[] = [
  ['plain ascii', 'plain ascii', '"plain ascii"'],
  ['\x1b[31mred', '\\x1b[31mred', '"\\u001b[31mred"'],
  ['\x00nul', '\\x00nul', '"\\u0000nul"'],
  ['a\tb', 'a\\tb', '"a\\tb"'],
  ['a\nb\rc', 'a\\nb\\rc', '"a\\nb\\rc"'],
  ['bell\x07', 'bell\\x07', '"bell\\u0007"'],
  ['\x1f', '\\x1f', '"\\u001f"'],
  ['del\x7f', 'del\\x7f', '"del\\u007f"'],
  ['c1 \u0080 \u0085 \u009b \u009f', 'c1 \\u0080 \\u0085 \\u009b \\u009f', '"c1 \\u0080 \\u0085 \\u009b \\u009f"'],
  ['rlo\u202eevil', 'rlo\\u202eevil', '"rlo\\u202eevil"'],
  ['\u202a\u202b\u202c\u202d', '\\u202a\\u202b\\u202c\\u202d', '"\\u202a\\u202b\\u202c\\u202d"'],
  ['\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069', '"\\u2066\\u2067\\u2068\\u2069"'],
  ['\u200e\u200f\u061c', '\\u200e\\u200f\\u061c', '"\\u200e\\u200f\\u061c"'],
  ['line\u2028para\u2029', 'line\\u2028para\\u2029', '"line\\u2028para\\u2029"'],
  ['é ü 日本 😀 \u00a0', 'é ü 日本 😀 \u00a0', '"é ü 日本 😀 \u00a0"'],
  ['quote " and \\ stay', 'quote " and \\ stay', '"quote \\" and \\\\ stay"'],
];

for (const [input, text, json] of TABLE) {
  test(`escape ${JSON.stringify(input)}`, (t) => {
    t.is(escapeControls(input), text);
    const j = escapeControls(JSON.stringify(input), 'json');
    t.is(j, json);
    t.is(JSON.parse(j), input, 'the JSON still parses back to the original');
  });
}

test('keep: characters printed on purpose survive', (t) => {
  t.is(escapeControls('a\nb\t\x1b', 'text', '\n\t'), 'a\nb\t\\x1b');
});

test('table cells: a tab or newline in a cell cannot break the columns', (t) => {
  const lines = table(['ID', 'COMMENT', 'X'], [['1', 'a\tb\nc', 'x'], ['2', 'ok', 'y']]);
  t.is(lines.length, 3);
  const at = (l: string): number => l.lastIndexOf(' ') + 1;
  t.is(at(lines[1]), at(lines[2]), 'the last column starts at the same place');
  t.false(/[\t\n]/.test(lines.join('')));
});

// every character no output may carry raw
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function capture(): Io & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => { lines.push(l); }, err: (l) => { lines.push(l); } };
}

const EVIL = ['\x1b[31m', '\x1b]0;owned\x07', '\u009b2J', 'a\u202eb', 'x\ny', '\x7f', 'tab\there'];

for (const word of EVIL) {
  for (const json of [false, true]) {
    test(`pktmark ${json ? '--json ' : ''}${JSON.stringify(word)}: the error line is escaped`, async (t) => {
      const io = capture();
      const code = await main([...(json ? ['--json'] : []), word], io);
      t.is(code, 2);
      t.is(io.lines.length, 1);
      t.false(RAW.test(io.lines[0]!), io.lines[0]);
      t.false(io.lines[0]!.includes('\n'));
      if (json) t.is(JSON.parse(io.lines[0]!).error.field, word, 'JSON keeps the exact word');
    });
  }
}

test('dry-run add and explain with an escape in the comment print it escaped', async (t) => {
  for (const cmd of [['--dry-run', 'add'], ['explain']]) {
    const io = capture();
    const code = await main([...cmd, '--src', '10.0.0.1', '--mark', '1', '--comment', 'hi\x1b[2J\u202e\nthere\t!'], io);
    t.is(code, 0, io.lines.join('\n'));
    t.false(io.lines.some((l) => RAW.test(l)), io.lines.join('|'));
    t.false(io.lines.join('\n').split('\n').some((l) => l.startsWith('there')), 'the comment did not start a line of its own');
    t.true(io.lines.join('\n').includes('hi\\x1b[2J\\u202e\\nthere\\t!'));
  }
});

test('iptables front: the usage error for an escape word is escaped', async (t) => {
  const io = capture();
  await main(['--dry-run', 'iptables', '-t', 'raw', '-A', 'PREROUTING', '-m', '\x1b[5m', '-j', 'MARK', '--set-mark', '1'], io);
  t.true(io.lines.length >= 1);
  t.false(io.lines.some((l) => RAW.test(l)), io.lines.join('|'));
});
