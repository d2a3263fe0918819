/** Help texts, with examples. Kept as data so `--help` loads nothing else. */

const GLOBAL = `Global options (before the command; native commands also accept them after it):
  --netns NAME|PATH|PID   act in this network namespace (ip netns name, /proc/PID/ns/net, …)
  --table NAME            pktmark's nftables table (family inet; default pktmark)
  --json                  machine-readable output (field names: src/cli/README-json.md)
  --dry-run               send nothing; print the equivalent nft/tc command (no privileges needed)
  --hex                   with --dry-run: print each netlink message that would be sent, in send
                          order, one per line, lowercase hex (batch begin/end included)
  --ifindex N | DEV=N     with --dry-run --hex: a tc device's ifindex (when it cannot be read)`;

const EXIT = `Exit status: 0 ok; 1 rule problem (invalid value, kernel refused, not found, no privileges);
2 usage problem (unknown or unsupported word, missing argument). Errors are one line on stderr:
CODE FIELD: message — fix.`;

const TEXTS: Readonly<Record<string, string>> = {
  main: `pktmark — mark Linux packets (skb->mark) over netlink, without nft, iptables or tc binaries

Usage: pktmark [GLOBAL OPTIONS] COMMAND [ARGS…]

Commands:
  add        add a mark rule; prints its id and the equivalent nft/tc line
  list       rules pktmark owns: id, via, match, mark, rate, packets, bytes, comment
  del ID…    delete rules by id
  clear      delete every rule pktmark owns (its nft table, its tc filters)
  set        set add|del ID ADDR…|@FILE: change an address-list rule's set in place
  explain    print the nft/tc command equivalent to an add (sends nothing)
  apply      make the table hold exactly a file's rules (-f FILE; --plan, --prune)
  agent      keep applying a file: watch, resync, metrics (-f FILE)
  doctor     what this kernel and process can do, and the --via to use here
  marks      which other software (Cilium, Calico, Kubernetes, …) uses some mark bits
  conflicts  who on this system sets or matches which mark bits, live (nft, tc, ip rule, …)
  ping       send pings with SO_MARK (like ping -m)
  verify     watch real traffic: does a rule's mark survive to the later hooks, and who overwrites it
  ipft-args  the ipft -m … --mask … arguments that trace a rule's (or a mark's) packets
  iptables   drop-in: iptables -t raw|mangle … -j MARK lines, on pktmark's own table
  ip6tables  the same for IPv6
  tc         drop-in: tc qdisc/filter … u32 … action skbedit mark lines

${GLOBAL}

Examples:
  pktmark add --src 10.0.0.1 --mark 0xdeadbeef
  pktmark iptables -t raw -A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0xdeadbeef
  pktmark --dry-run --hex add --family ip6 --src 2001:db8::1 --mark 0xdeadbeef
  pktmark --netns blue list --json

Run pktmark COMMAND --help for a command's options. ${EXIT}`,

  add: `Usage: pktmark [GLOBAL] add [OPTIONS] --mark V[/M]

Adds one rule (one atomic batch) and prints "ID<TAB>equivalent command".
  --via {vias}{vpad}backend (default nft; tc when --dev is given, cgroup when --cgroup is)
  --family ip|ip6           match only this family (implied by --src/--dst)
  --hook prerouting|output  nft chain (default prerouting, like -t raw -A PREROUTING)
  --dev IF                  tc, bpf, xdp: the device the filter or program sits on
  --direction ingress|egress tc, bpf: which side (default ingress; xdp is ingress only)
  --prio N                  tc: filter priority 1-65535; bpf: the prio of the device's one program filter
  --cgroup PATH             cgroup: mark every new socket of this cgroup v2 directory (host-wide; mark only)
  --src ADDR[/LEN]          source address or prefix; '!ADDR' negates
  --src @FILE               nft: an address list (one address, prefix or a-b range per line,
                            # comments): one rule with a named set (hash, or interval with prefixes)
  --dst ADDR[/LEN] | @FILE  destination address or prefix ('!ADDR' negates), or a list
  --proto P                 tcp, udp, sctp, icmp, icmpv6, … or a number
  --sport N / --dport N     ports (need --proto tcp|udp|sctp|udplite)
  --iif IF / --oif IF       input (prerouting) / output (output hook) interface; IF+ is a wildcard
  --mark V[/M]              set the mark; with /M only the bits in M change ((old & ~M) | V)
  --mark auto[/MASK]        pick one bit (within MASK) no live user touches, the registry's least used
  --strict                  refuse (MARK_CONFLICT) a mark whose bits a live user relies on; without
                            it add warns on stderr (pktmark conflicts shows who)
  --no-check                skip that live scan (no warning; scripts adding many rules)
  --rate N/second|minute|hour|day   mark only packets within this rate
  --burst N                 packets above the rate in a burst (default 5)
  --comment TEXT            up to 128 bytes

Examples:
  pktmark add --src 10.0.0.1 --mark 0xdeadbeef
  pktmark add --src 10.0.0.1 --mark 0xdeadbeef --rate 1/second --burst 1
  pktmark add --src @blocklist.txt --mark 0x66
  pktmark add --proto tcp --dport 443 --mark 0x10/0xf0 --comment https
  pktmark add --hook output --dst 10.0.0.1 --oif eth0 --mark 42
  pktmark add --via tc --dev eth0 --src 10.0.0.1 --mark 0xdeadbeef
  pktmark add --cgroup system.slice/web.service --mark 0x10/0xf0
  pktmark add --via bpf --dev eth0 --src 10.0.0.1 --mark 0xdeadbeef    (cls_bpf: no tc action needed)
  pktmark add --via xdp --dev eth0 --src 10.0.0.1 --mark 0xdeadbeef    (XDP + tc copy: earliest on the way in)
  pktmark --dry-run --hex add --src 10.0.0.1 --mark 0xdeadbeef

bpf and xdp rules print "ID<TAB># via: where: match → mark" (no real tool writes these programs);
their ids are bpf:DEV:ingress|egress:SLOT and xdp:DEV:SLOT, stable while the rule lives.
--dry-run prints the disassembly; --dry-run --hex the instruction bytes, then the messages
(program and map fds are the placeholder 0). Privileges: loading needs CAP_BPF+CAP_NET_ADMIN or
CAP_SYS_ADMIN; adding to a device that has rules, list and delete need CAP_SYS_ADMIN (programs by id).

${GLOBAL}

${EXIT}`,

  explain: `Usage: pktmark [GLOBAL] explain [ADD OPTIONS] --mark V[/M]

Prints the nft (or tc) command equivalent to the same add; sends nothing and needs no
privileges (with --hex: the netlink messages). Options: as pktmark add --help.

Example:
  pktmark explain --src 10.0.0.1 --mark 0xdeadbeef --rate 1/s --burst 1
  → nft add rule inet pktmark prerouting ip saddr 10.0.0.1 limit rate 1/second burst 1 packets counter meta mark set 0xdeadbeef`,

  list: `Usage: pktmark [GLOBAL] list [--via {vias}]

A table of the rules pktmark owns in the namespace, decoded from the kernel:
ID, VIA, MATCH, MARK, RATE, PACKETS, BYTES, COMMENT. With --json: {"rules": [RULE…]}.

Examples:
  pktmark list
  pktmark --netns blue list --json`,

  del: `Usage: pktmark [GLOBAL] del ID…

Deletes rules by id (as printed by add and list, e.g. nft:prerouting:7). All ids of one backend
go in one batch: if one does not exist, none is deleted (NOT_FOUND, exit 1).

Example:
  pktmark del nft:prerouting:7 nft:prerouting:9`,

  set: `Usage: pktmark [GLOBAL] set add ID ADDR…|@FILE [--field src|dst]
       pktmark [GLOBAL] set del ID ADDR…|@FILE [--field src|dst]

Changes the address list of a rule added with --src @FILE (or src: [...]) in place: only the
changed set elements are sent, in one atomic batch; addresses that stay are never unmarked.
ADDR is an address, a prefix or a range a-b; @FILE as for add (one per line, # comments).
A hash set (every entry one address) takes addresses only; deleting one it lacks is NOT_FOUND.
An interval set merges what is added; deleting a prefix out of a merged range splits the range.
--field picks the list when the rule has both a src and a dst list. Not a list rule:
NOT_A_SET_RULE (exit 1). Prints "updated ID: N set elements deleted, M added".

Examples:
  pktmark set add nft:prerouting:7 10.0.0.9 192.168.7.0/24
  pktmark set del nft:prerouting:7 @gone.txt`,

  clear: `Usage: pktmark [GLOBAL] clear [--via {vias}]

Deletes everything pktmark owns in the namespace: its nft table, its tc filters. Never touches
tables or filters it did not make.

Example:
  pktmark --netns blue clear`,

  doctor: `Usage: pktmark [GLOBAL] doctor

Checks what this kernel and this process can do: CAP_NET_ADMIN, nf_tables, the nft limit
expression, cls_u32, act_skbedit, act_police, cls_bpf, XDP. Each is probed by a harmless
netlink request inside a throwaway network namespace (nothing in yours is touched), then the
--via to use on this machine is suggested. With --json: {"checks": […], "suggestedVia": …}.`,

  conflicts: `Usage: pktmark [GLOBAL] conflicts [V[/M]] [--source S,…] [--timeout MS]

Who in this network namespace sets, masks, matches, saves or restores which mark bits, live:
nft rules of every table and family (iptables-nft's MARK, CONNMARK, TPROXY, HMARK, mark,
connmark and socket --restore-skmark included, and maps that set marks), tc filters (skbedit,
connmark, ctinfo, u32 mark, fw, cls_bpf programs), ip rule fwmark, xfrm states and policies,
IPVS fwmark services, WireGuard fwmark, and sockets with SO_MARK (with their process, from /proc).
Read through netlink and /proc only; nothing is changed. What could not be read (EPERM, a module
not loaded, the deadline) is listed separately. With V[/M], the fwmark registry's view of it too.
A whole-value statement (meta mark set 0x10, fwmark 0x10, SO_MARK) touches all 32 bits; --mark
auto and add's warning avoid its value's bits.
  --source S,…    only these: nft, tc, ip-rule, xfrm, ipvs, wireguard, socket
  --timeout MS    the scan's budget (default 3000)

Examples:
  pktmark conflicts
  pktmark --netns blue conflicts 0x4000/0x4000 --json`,

  marks: `Usage: pktmark [GLOBAL] marks V[/M]

Lists the software known to use the mark bits that V/M changes (or the very value V), from the
fwmark registry (github.com/fwmark/registry, CC BY 4.0): marks are shared by everything on a host,
and a later writer overrides an earlier one. Informative only; --json for machine output.

Examples:
  pktmark marks 0xdeadbeef
  pktmark marks 0x10/0xf0`,

  verify: `Usage: pktmark [GLOBAL] verify ID [--packets N] [--seconds S]

Watches real traffic (it sends none) and reports, for the rule's traffic, how many packets were
marked and how many still carried the mark at the end of each later hook: prerouting, then input
or forward, then postrouting (an output rule: output, then postrouting). Where the mark went
missing it names the nft rules in between that write those bits. Stops after N packets of the
rule's traffic or S seconds (default 10 s); Ctrl-C stops early and prints the counts so far (exit 130).
The observers sit in a table of their own (inet pktmark_verify_…, owner-flagged: the kernel
removes it when verify exits, even when killed) and are deleted when verify ends. Needs Linux ≥ 5.12.
tc, bpf and xdp ingress rules are watched from prerouting's first priority; egress and cgroup
rules cannot be watched by netfilter (refused). NAT that rewrites the matched addresses is not
followed: those packets are reported as not seen. With --json: see src/cli/README-json.md.

Examples:
  pktmark verify nft:prerouting:3 --packets 100
  pktmark --netns blue verify nft:output:7 --seconds 30 --json`,

  'ipft-args': `Usage: pktmark [GLOBAL] ipft-args ID|V[/M]

Prints the ipftrace2 arguments that trace the packets a rule marks (or that carry V under M):
"-m 0x… --mask 0x…", always 0x-hex (older ipftrace2 releases read both as hex). Refuses mark 0
and mask 0 (ipftrace2 rejects them) and xor rules (no single mark to trace).

Examples:
  ipft $(pktmark ipft-args nft:prerouting:3) -o …
  pktmark ipft-args 0x10/0xf0          → -m 0x10 --mask 0xf0`,

  ping: `Usage: pktmark [GLOBAL] ping [OPTIONS] HOST

Sends ICMP echo requests from a socket marked with SO_MARK (like ping -m MARK).
Run pktmark ping --help for its options.`,

  iptables: `Usage: pktmark [GLOBAL] iptables|ip6tables [-t raw|mangle] COMMAND [MATCHES] -j MARK TARGET-OPTION

A drop-in for iptables/ip6tables MARK lines: the words after "iptables" are accepted verbatim.
It acts on PKTMARK'S OWN nftables table (inet pktmark), never on iptables' tables:
  -t raw    PREROUTING → chain prerouting (priority raw), OUTPUT → raw_output
  -t mangle PREROUTING → chain mangle_prerouting (priority mangle), OUTPUT → output (type route)
  user-defined chains (-N NAME, with -t) → regular chains raw.NAME / mangle.NAME

Commands:  -A CHAIN RULE | -I CHAIN [N] RULE | -D CHAIN RULE | -D CHAIN N | -F [CHAIN] | -L [CHAIN] [-n] [-v]
           -N CHAIN | -X [CHAIN]
Matches:   [!] -s ADDR[/LEN]   [!] -d ADDR[/LEN]   -p tcp|udp|sctp|icmp|N   --sport N  --dport N
           -i IF  -o IF   -m tcp|udp|sctp   -m limit --limit N/s|m|h|d (/sec /minute …) --limit-burst N
           -m comment --comment TEXT
Target:    -j MARK --set-mark V[/M] | --set-xmark V[/M] | --and-mark V | --or-mark V | --xor-mark V
           -j CONNMARK (the same five) | --save-mark | --restore-mark  [--mask M | --nfmask N --ctmask C]
                      [--left-shift-mark B | --right-shift-mark B]
           -j CHAIN | -j RETURN

-I CHAIN [N] inserts just before rule N (default 1) in one request, like nft insert rule …
position H; the other rules keep their ids and counters. Without -t, raw is assumed.
Anything else (other tables, chains, matches or targets) is refused with the word and its
position, exit 2, and nothing applied. Positions count from the first word after "iptables".

Examples:
  pktmark iptables -t raw -A PREROUTING -s 10.0.0.1 -j MARK --set-mark 0xdeadbeef
  pktmark ip6tables -t raw -A PREROUTING -s 2001:0db8::1 -j MARK --set-mark 0xdeadbeef
  pktmark iptables -t raw -A PREROUTING -s 10.0.0.1 -m limit --limit 1/s --limit-burst 1 -j MARK --set-mark 0xdeadbeef
  pktmark iptables -t raw -D PREROUTING -s 10.0.0.1 -j MARK --set-mark 0xdeadbeef
  pktmark iptables -t raw -L -n -v

${EXIT}`,

  tc: `Usage: pktmark [GLOBAL] tc qdisc add|del dev IF ingress|clsact
       pktmark [GLOBAL] tc filter add|del|show dev IF [parent ffff:|ffff:fff2|ffff:fff3 | ingress|egress]
            [protocol ip|ipv6|all] [prio N] u32 match ip|ip6 src|dst ADDR[/LEN]
            [match ip protocol N 0xff] [match ip sport|dport N 0xffff] … action skbedit mark V[/M]

A drop-in for the tc lines that mark with u32 + skbedit: the words after "tc" are accepted
verbatim. pktmark keeps its filters on a clsact qdisc (parent ffff: means ingress).
Port matches need "match ip protocol 6|17|132 0xff" (u32 itself does not check the protocol).
Anything else is refused with the word and its position, exit 2, and nothing applied.

Examples:
  pktmark tc qdisc add dev eth0 clsact
  pktmark tc filter add dev eth0 parent ffff: protocol ip prio 1 u32 match ip src 10.0.0.1 action skbedit mark 0xdeadbeef
  pktmark tc filter show dev eth0 ingress
  pktmark tc filter del dev eth0 parent ffff: prio 1

${EXIT}`,
};

/**
 * `vias`: the backend registry's words, passed in by the commands that show them, so that help.ts
 * itself loads no backend.
 */
export const hasHelpText = (cmd: string): boolean => cmd === 'ip6tables' || Object.hasOwn(TEXTS, cmd);

export function helpText(cmd: string, vias: readonly string[] = []): string {
  const text = cmd === 'ip6tables' ? TEXTS.iptables : TEXTS[cmd] ?? TEXTS.main;
  const words = vias.join('|');
  return text.replaceAll('{vias}', words).replaceAll('{vpad}', ' '.repeat(Math.max(1, 20 - words.length)));
}
