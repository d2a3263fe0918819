/** The iptables-save format without root: what parses, and refusals with their line and word. */
import test from 'ava';
import { parseRestore } from '../../src/cli/fronts/restore-format.js';
import { PktmarkError } from '../../src/errors.js';

test('tables, built-in chain lines, comments, CRLF, quotes', (t) => {
  const p = parseRestore('# x\r\n*raw\r\n:PREROUTING ACCEPT [0:0]\r\n:INPUT ACCEPT [0:0]\r\n-A PREROUTING -s 10.0.0.1 -j MARK --set-mark 1\r\nCOMMIT\r\n*mangle\n-A OUTPUT -m comment --comment "a \\"b\\"" -j MARK --set-mark 2\nCOMMIT\n', 'ip');
  t.deepEqual(p.tables, ['raw', 'mangle']);
  t.is(p.rules.length, 2);
  t.is(p.rules[1].comment, 'a "b"');
});

const BAD: readonly [string, RegExp][] = [
  ['*nat\n-A PREROUTING -j DNAT\nCOMMIT\n', /^line 1: /],
  ['*raw\n:PREROUTING DROP [0:0]\nCOMMIT\n', /^line 2: .*policy DROP/],
  ['*raw\n-A PREROUTING -j DROP\nCOMMIT\n', /^line 2: .*'DROP'/],
  ['*raw\n-A PREROUTING -j MARK --set-mark 1\n', /no COMMIT/],
  ['*raw\n:MYCHAIN ACCEPT [0:0]\nCOMMIT\n', /^line 2: user-defined chain MYCHAIN takes policy '-'/],
  [`*raw\n${'-A PREROUTING -j MARK --set-mark 1\n'.repeat(27)}-A PREROUTING -p tcp --dport 99999 -j MARK --set-mark 1\nCOMMIT\n`, /^line 29: /],
];
BAD.forEach(([text, msg], i) => {
  test(`refused ${i}: ${JSON.stringify(text.slice(0, 40))}`, (t) => {
    const e = t.throws(() => parseRestore(text, 'ip')) as PktmarkError;
    t.true(e instanceof PktmarkError);
    t.regex(e.message, msg);
    t.truthy(e.field);
  });
});

test('-I lines go to the head at COMMIT, each in front of the ones before it, in front of every rule read so far', (t) => {
  const text = '*raw\n-A PREROUTING -j MARK --set-mark 1\n-I PREROUTING -j MARK --set-mark 2\n-A PREROUTING -p tcp --dport 5 -j MARK --set-mark 3\n'
    + '-I PREROUTING -p tcp --dport 5 -j MARK --set-mark 4\nCOMMIT\n*mangle\n-A OUTPUT -j MARK --set-mark 5\n-I OUTPUT -j MARK --set-mark 6\nCOMMIT\n';
  for (const inputs of [true, false]) {
    const p = parseRestore(text, 'ip', { counters: true, inputs });
    t.deepEqual(p.normalized.map((r) => r.mark), [6, 4, 2, 1, 3, 5]);
    t.deepEqual(p.rules.map((r) => r.mark), inputs ? [6, 4, 2, 1, 3, 5] : []);
    t.deepEqual(p.counters, [undefined, undefined, undefined, undefined, undefined, undefined]);
  }
});

test('rule lines after blanks (more rules than lines starting with -) are all kept, -I ones in front', (t) => {
  const p = parseRestore('*raw\n -A PREROUTING -j MARK --set-mark 1\n\t-I PREROUTING -j MARK --set-mark 2\n  -I PREROUTING -j MARK --set-mark 3\nCOMMIT\n', 'ip');
  t.deepEqual(p.normalized.map((r) => r.mark), [3, 2, 1]);
  t.deepEqual(p.rules.map((r) => r.mark), [3, 2, 1]);
  t.is(p.counters.length, 3);
});
