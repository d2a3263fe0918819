/** bin/pktmark.cjs runs (dist/ when built, else src/ through tsx) and `--dry-run` never loads koffi. */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { cli } from './cli.js';

const BIN = fileURLToPath(new URL('../../bin/pktmark.cjs', import.meta.url));

test('bin/pktmark.cjs --version and a dry-run', async (t) => {
  const v = await cli(['--version'], { entry: [BIN] });
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /^pktmark \d+\.\d+\.\d+\n$/);
  const d = await cli(['--dry-run', 'add', '--src', '10.0.0.1', '--mark', '0xdeadbeef'], { entry: [BIN] });
  t.is(d.stdout, 'nft add rule inet pktmark prerouting ip saddr 10.0.0.1 counter meta mark set 0xdeadbeef\n');
});

test('--dry-run --hex loads no native module and opens no socket', async (t) => {
  // a preload that fails the process if koffi is required or a netlink socket is attempted
  const probe = "import{createRequire,Module}from'node:module';const r=Module.prototype.require;Module.prototype.require=function(id){if(String(id).startsWith('koffi'))throw new Error('koffi loaded');return r.apply(this,arguments)};";
  const d = await cli(['--dry-run', '--hex', 'add', '--src', '10.0.0.1', '--mark', '1'], { entry: ['--import', `data:text/javascript,${encodeURIComponent(probe)}`, '--import', 'tsx', fileURLToPath(new URL('../../src/cli/entry.ts', import.meta.url))] });
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout.trim().split('\n').length, 5);
});
