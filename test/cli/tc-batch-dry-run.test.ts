/** `pktmark --dry-run [--hex] tc -batch FILE` as nobody: no privileges, no kernel, the same lines as root. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessages } from '../../codecs/netlink/message.js';
import { RTM_NEWQDISC, RTM_NEWTFILTER } from '../../codecs/tc/constants.js';
import { cli } from './cli.js';
import { uniqueName } from '../helpers/netns.js';
import { DROP_TO_NOBODY, liveTest } from '../helpers/requires.js';

const FILE = join(tmpdir(), `${uniqueName('pmtb')}.tc`);
writeFileSync(FILE, [
  '# marks, as an entrypoint writes them',
  'qdisc add dev eth0 clsact',
  'filter add dev eth0 ingress protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef',
  'filter add dev eth0 ingress protocol ip prio 2 u32 match ip dport 53 0xffff action skbedit mark 0x2',
  '',
].join('\n'));

liveTest('as nobody: tc -batch --dry-run --hex prints the qdisc and both filters; --dry-run the tc lines', [DROP_TO_NOBODY], async (t) => {
  const r = await cli(['--dry-run', '--hex', '--ifindex', 'eth0=4', 'tc', '-batch', FILE], { asNobody: true });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n').map((h) => parseMessages(Buffer.from(h, 'hex'))[0]!.header.type), [RTM_NEWQDISC, RTM_NEWTFILTER, RTM_NEWTFILTER]);
  const text = await cli(['--dry-run', 'tc', '-batch', FILE], { asNobody: true });
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^tc filter add dev eth0 ingress protocol ip prio 2 u32 match ip dport 53 0xffff action skbedit mark 0x2$/m);
});
