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
  ping       send pings with SO_MARK (like ping -m)
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

  marks: `Usage: pktmark [GLOBAL] marks V[/M]

Lists the software known to use the mark bits that V/M changes (or the very value V), from the
fwmark registry (github.com/fwmark/registry, CC BY 4.0): marks are shared by everything on a host,
and a later writer overrides an earlier one. Informative only; --json for machine output.

Examples:
  pktmark marks 0xdeadbeef
  pktmark marks 0x10/0xf0`,

  ping: `Usage: pktmark [GLOBAL] ping [OPTIONS] HOST

Sends ICMP echo requests from a socket marked with SO_MARK (like ping -m MARK).
Run pktmark ping --help for its options.`,

  iptables: `Usage: pktmark [GLOBAL] iptables|ip6tables [-t raw|mangle] COMMAND [MATCHES] -j MARK TARGET-OPTION

A drop-in for iptables/ip6tables MARK lines: the words after "iptables" are accepted verbatim.
It acts on PKTMARK'S OWN nftables table (inet pktmark), never on iptables' tables:
  PREROUTING → pktmark's prerouting chain (hook prerouting, priority raw)
  OUTPUT     → pktmark's output chain (hook output, priority mangle, type route)
  -t raw and -t mangle both map onto these two chains (pktmark has one chain per hook).

Commands:  -A CHAIN RULE | -I CHAIN [N] RULE | -D CHAIN RULE | -D CHAIN N | -F [CHAIN] | -L [CHAIN] [-n] [-v]
Matches:   [!] -s ADDR[/LEN]   [!] -d ADDR[/LEN]   -p tcp|udp|sctp|icmp|N   --sport N  --dport N
           -i IF  -o IF   -m tcp|udp|sctp   -m limit --limit N/s|m|h|d (/sec /minute …) --limit-burst N
           -m comment --comment TEXT
Target:    -j MARK --set-mark V[/M] | --set-xmark V[/M] | --and-mark V | --or-mark V | --xor-mark V

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
export function helpText(cmd: string, vias: readonly string[] = []): string {
  const text = cmd === 'ip6tables' ? TEXTS.iptables : TEXTS[cmd] ?? TEXTS.main;
  const words = vias.join('|');
  return text.replaceAll('{vias}', words).replaceAll('{vpad}', ' '.repeat(Math.max(1, 20 - words.length)));
}
