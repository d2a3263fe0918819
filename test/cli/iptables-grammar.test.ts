/**
 * The iptables grammar without root: lines from iptables' own extension tests
 * (extensions/libxt_{tcp,udp,mark,connmark,multiport,MARK}.t and iptables/tests) and the getopt
 * forms, each with the nft statements it must become; and refusals with their code and word.
 */
import test from 'ava';
import { parseIptables } from '../../src/cli/fronts/iptables.js';
import { explainNft } from '../../src/backends/nft/explain.js';
import { normalizeRule } from '../../src/normalize.js';
import { PktmarkError, type ErrorCode } from '../../src/errors.js';

const nft = (line: string): string => {
  const c = parseIptables(line.split(' ').filter(Boolean), 'ip');
  if (!('rule' in c)) throw new Error('not a rule command');
  return explainNft(normalizeRule(c.rule), 't').replace(/^nft add rule inet t /, '');
};

const GOOD: readonly [string, string][] = [
  ['-t raw -A PREROUTING -s 10.11.12.13/255.0.0.0 -j MARK --set-mark 1', 'prerouting ip saddr 10.0.0.0/8 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -s 10.11.12.13/255.0.255.0 -j MARK --set-mark 1', 'prerouting ip saddr & 255.0.255.0 == 10.0.12.0 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING ! -d 10.11.12.13/255.255.0.255 -j MARK --set-mark 1', 'prerouting ip daddr & 255.255.0.255 != 10.11.0.13 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p tcp --sport 1024: -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 tcp sport 1024-65535 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p tcp --dport :1023 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 tcp dport 0-1023 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p tcp --sport 1:1023 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 tcp sport 1-1023 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p tcp --dport 4:4 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 tcp dport 4 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p tcp ! --dport 1 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 tcp dport != 1 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p udp ! --sport 1:5 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 udp sport != 1-5 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -m udp --dport 1 -p 17 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 udp dport 1 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING --protocol=tcp -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 meta l4proto tcp counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -ptcp -s1.2.3.4 -ieth0 -j MARK --set-mark 1', 'prerouting ip saddr 1.2.3.4 iifname "eth0" meta l4proto tcp counter meta mark set 0x1'],
  ['-t raw -A PREROUTING --sou 1.2.3.4 --jump MARK --set-m 1', 'prerouting ip saddr 1.2.3.4 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING --source=1.2.3.4 -j MARK --set-mark=0x10/0xf0', 'prerouting ip saddr 1.2.3.4 counter meta mark set meta mark and 0xffffff0f or 0x10'],
  ['-j MARK --set-xmark 0x1/0xff -A PREROUTING -t raw -nv', 'prerouting meta nfproto ipv4 counter meta mark set meta mark and 0xffffff00 or 0x1'],
  ['-t mangle -A PREROUTING -m mark ! --mark 0/0xff -j MARK --set-mark 1', 'mangle_prerouting meta nfproto ipv4 meta mark and 0xff != 0x0 counter meta mark set 0x1'],
  ['-t mangle -A PREROUTING -m mark --mark 0x400 -j MARK --or-mark 1', 'mangle_prerouting meta nfproto ipv4 meta mark == 0x400 counter meta mark set meta mark and 0xfffffffe or 0x1'],
  ['-t mangle -A OUTPUT -m connmark ! --mark 1/0xf -j MARK --and-mark 0xff', 'output meta nfproto ipv4 ct mark and 0xf != 0x1 counter meta mark set meta mark and 0xff or 0x0'],
  ['-t raw -A OUTPUT -o lo -j MARK --xor-mark 3', 'raw_output meta nfproto ipv4 oifname "lo" counter meta mark set meta mark and 0xffffffff xor 0x3'],
  ['-t raw -A PREROUTING -p tcp -m multiport --dports 80:90 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 tcp dport 80-90 counter meta mark set 0x1'],
  ['-t raw -A PREROUTING -p udp -m multiport ! --sports 53 -j MARK --set-mark 1', 'prerouting meta nfproto ipv4 udp sport != 53 counter meta mark set 0x1'],
];

for (const [line, want] of GOOD) {
  test(`iptables ${line}`, (t) => { t.is(nft(line), want); });
}

const BAD: readonly [string, string, RegExp][] = [
  ['-t raw -A PREROUTING -p tcp --dport 70000 -j MARK --set-mark 1', 'INVALID_PORT', /outside 0\.\.65535/],
  ['-t raw -A PREROUTING -p tcp --dport 5:1 -j MARK --set-mark 1', 'INVALID_PORT', /start above its end/],
  ['-t raw -A PREROUTING -j MARK', 'INVALID_OPTION', /needs one of --set-mark/],
  ['-t mangle -A OUTPUT -i eth0 -j MARK --set-mark 1', 'INVALID_OPTION', /Can't use -i with OUTPUT/],
  ['-t raw -A PREROUTING -o eth0 -j MARK --set-mark 1', 'INVALID_OPTION', /Can't use -o with PREROUTING/],
  ['-t raw -A PREROUTING -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j MARK --set-mark 1', 'INVALID_PORT', /too many ports/],
  ['-t raw -A PREROUTING -p tcp -m multiport --dports 1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16 -j MARK --set-mark 1', 'INVALID_PORT', /too many ports/],
  ['-t raw -A PREROUTING -m tcp --dport 1 -j MARK --set-mark 1', 'PORT_WITHOUT_PROTO', /-m tcp at position 6 needs -p tcp/],
  ['-t raw -A PREROUTING -m udp --dport 1 -p tcp -j MARK --set-mark 1', 'PORT_WITHOUT_PROTO', /needs -p udp/],
  ['-t raw -A PREROUTING --s 1.2.3.4 -j MARK --set-mark 1', 'INVALID_OPTION', /ambiguous/],
  ['-t raw -A PREROUTING ! -j MARK --set-mark 1', 'INVALID_OPTION', /cannot be negated/],
  ['-t raw -A PREROUTING -s 1.2.3.4 !', 'UNSUPPORTED', /'!' at position 7/],
  ['-t nat -A PREROUTING -j MARK --set-mark 1', 'UNSUPPORTED', /'nat' at position 2/],
  ['-tnat -A PREROUTING -j MARK --set-mark 1', 'UNSUPPORTED', /'nat' at position 1/],
  ['-t raw -A FORWARD -j MARK --set-mark 1', 'UNSUPPORTED', /'FORWARD' at position 4/],
  ['-t raw -A PREROUTING -m mark -j MARK --set-mark 1', 'INVALID_OPTION', /needs --mark/],
  ['-t raw -A PREROUTING -j MARK --set-mark 1 --set-mark 2', 'INVALID_OPTION', /already given/],
  ['-t raw -A PREROUTING -j MARK --and-mark 1/2', 'INVALID_MARK', /without \/mask/],
  ['-t raw -A PREROUTING -j MARK --set-mark=', 'INVALID_MARK', /not a number/],
  ['-t raw -A PREROUTING --source -j MARK --set-mark 1', 'UNSUPPORTED', /'MARK'/],
];

for (const [line, code, msg] of BAD) {
  test(`refused: iptables ${line}`, (t) => {
    const e = t.throws(() => nft(line)) as PktmarkError;
    t.true(e instanceof PktmarkError, String(e));
    t.is(e.code, code as ErrorCode, e.message);
    t.regex(e.message, msg);
    t.truthy(e.field);
  });
}
