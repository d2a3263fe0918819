/**
 * `pktmark --dry-run [--hex] iptables-restore`: the one batch the restore would send, without root.
 * As nobody the flush cannot be read (stderr says so) and the batch is the one for a namespace
 * without pktmark rules; as root in a namespace with pktmark rules it starts with their DELRULEs.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessages } from '../../codecs/netlink/message.js';
import { NFT_MSG_DELRULE, NFT_MSG_NEWRULE, nftType } from '../../codecs/nftables/messages.js';
import { cli } from './cli.js';
import { liveTest, uniqueName, withNetns } from '../helpers/netns.js';
import { DROP_TO_NOBODY, liveTest as requiresTest } from '../helpers/requires.js';

const FILE = join(tmpdir(), `${uniqueName('pmrd')}.rules`);
writeFileSync(FILE, '*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0x1\nCOMMIT\n*mangle\n-A OUTPUT -p tcp --dport 443 -j MARK --set-mark 0x2/0xff\nCOMMIT\n');
const types = (stdout: string): number[] => stdout.trim().split('\n').map((h) => parseMessages(Buffer.from(h, 'hex'))[0]!.header.type);

requiresTest('as nobody: --dry-run --hex prints one batch (begin … end) with every rule; the flush is said to be left out', [DROP_TO_NOBODY], async (t) => {
  const r = await cli(['--dry-run', '--hex', 'iptables-restore', FILE], { asNobody: true });
  t.is(r.code, 0, r.stderr);
  const ty = types(r.stdout);
  t.is(ty[0], 0x10, 'NFNL_MSG_BATCH_BEGIN');
  t.is(ty.at(-1), 0x11, 'NFNL_MSG_BATCH_END');
  t.is(ty.filter((x) => x === 0x10).length, 1, 'one batch');
  t.is(ty.filter((x) => x === nftType(NFT_MSG_NEWRULE)).length, 2);
  t.regex(r.stderr, /flush is left out .*EPERM/);
  const noflush = await cli(['--dry-run', '--hex', 'iptables-restore', '--noflush', FILE], { asNobody: true });
  t.is(noflush.code, 0);
  t.is(noflush.stdout, r.stdout, '--noflush: the same batch, and no note');
  t.is(noflush.stderr, '');
});

liveTest('as root in a namespace with pktmark rules: the dry-run batch flushes them (DELRULEs first) and sends nothing', async (t) => {
  await withNetns(async (ns) => {
    t.is((await cli(['--netns', ns.name, 'iptables-restore', FILE])).code, 0);
    const before = ns.nft('-j', 'list', 'ruleset');
    const r = await cli(['--netns', ns.name, '--dry-run', '--hex', 'iptables-restore', FILE]);
    t.is(r.code, 0, r.stderr);
    const ty = types(r.stdout);
    t.is(ty.filter((x) => x === nftType(NFT_MSG_DELRULE)).length, 2, 'the two rules now there are flushed');
    t.true(ty.indexOf(nftType(NFT_MSG_DELRULE)) < ty.indexOf(nftType(NFT_MSG_NEWRULE)));
    const text = await cli(['--netns', ns.name, '--dry-run', 'iptables-restore', FILE]);
    t.regex(text.stdout, /^nft delete rule inet pktmark prerouting handle \d+$/m);
    t.is(ns.nft('-j', 'list', 'ruleset'), before, 'nothing sent');
  });
});
