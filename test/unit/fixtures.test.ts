/**
 * Every capture in fixtures/ follows the one schema (fixtures/README.md, test/helpers/fixtures.ts):
 * schema 1, tool, toolVersion, kernel, madeBy, note?, ifindex? (tc), runs[{ command argv, files?,
 * messages hex[], replies? hex[], progFd? }]. A new capture that drifts from it fails here, by name.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fixtureNames, schemaProblems, type Tool } from '../helpers/fixtures.js';

const TOOLS: readonly Tool[] = ['nft', 'tc'];

test('every fixture file follows schema 1 and records its command, tool version and kernel', (t) => {
  let n = 0;
  const problems: string[] = [];
  for (const tool of TOOLS) {
    const dir = new URL(`../../fixtures/${tool}/`, import.meta.url);
    for (const name of fixtureNames(tool)) {
      n++;
      for (const p of schemaProblems(JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')), tool, name)) problems.push(`${tool}/${name}.json: ${p}`);
    }
  }
  t.deepEqual(problems, []);
  t.true(n >= 80, `${n} fixtures checked (every capture: no script is exempt)`);
});

test('schemaProblems names what is wrong', (t) => {
  const good = { schema: 1, name: 'x', tool: 'tc', toolVersion: 'tc utility, iproute2-6.1.0', kernel: '6.1.0', madeBy: 'fixtures/capture-tc.sh', ifindex: 3, runs: [{ command: ['/usr/sbin/tc', 'qdisc'], messages: ['10000000000000000000000000000000'] }] };
  t.deepEqual(schemaProblems(good, 'tc', 'x'), []);
  t.deepEqual(schemaProblems({ ...good, kernel: undefined }, 'tc', 'x'), ['kernel missing']);
  t.deepEqual(schemaProblems({ ...good, tcVersion: 'old' }, 'tc', 'x'), ['unknown field tcVersion']);
  t.deepEqual(schemaProblems({ ...good, runs: [{ command: 'tc qdisc', messages: [] }] }, 'tc', 'x'), ['runs[0].command is not an argv', 'runs[0] sent no message']);
  t.deepEqual(schemaProblems({ ...good, runs: [{ command: ['/usr/sbin/tc', 'q'], messages: ['14000000000000000000000000000000'] }] }, 'tc', 'x'), ['runs[0].messages: nlmsg_len 20 is not the message\'s length 16']);
  t.deepEqual(schemaProblems(good, 'nft', 'x'), ['tool tc is not the directory\'s (nft)', 'madeBy is not the capture script', 'runs[0].command does not start with /usr/sbin/nft']);
  t.deepEqual(schemaProblems({ ...good, madeBy: 'fixtures/capture-tc-bpf.sh (strace …)' }, 'tc', 'x'), [], 'a script per capture family');
  t.deepEqual(schemaProblems({ ...good, madeBy: 'fixtures/capture-nft-sets.sh' }, 'tc', 'x'), ['madeBy is not the capture script']);
  t.deepEqual(schemaProblems({ ...good, runs: [{ ...good.runs[0], progFd: 'x' }] }, 'tc', 'x'), ['runs[0].progFd is not an integer']);
});
