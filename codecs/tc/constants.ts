/**
 * rtnetlink / tc numbers, from linux/rtnetlink.h, linux/pkt_sched.h, linux/pkt_cls.h and
 * linux/if_ether.h. Kept in one file so every tc codec speaks the same names.
 */

// linux/rtnetlink.h message types
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

// TC_H_* handles (linux/pkt_sched.h). The clsact/ingress qdisc has handle ffff:0 and sits at the
// pseudo parent ffff:fff1; its two filter blocks are addressed as ffff:fff2 and ffff:fff3.
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_CLSACT = TC_H_INGRESS;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const INGRESS_QDISC_HANDLE = 0xffff0000;
export const PARENT_INGRESS = 0xfffffff2;
export const PARENT_EGRESS = 0xfffffff3;
export const TC_H_MAJ = (h: number): number => (h & 0xffff0000) >>> 0;
export const TC_H_MIN = (h: number): number => h & 0x0000ffff;

// enum TCA_* (rtnetlink.h): attributes of qdisc and filter messages
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_STATS = 3;
export const TCA_XSTATS = 4;
export const TCA_STATS2 = 7;
export const TCA_CHAIN = 11;
export const TCA_HW_OFFLOAD = 12;
export const TCA_DUMP_FLAGS = 15;

// enum TCA_ACT_* (linux/pkt_cls.h): one action inside a classifier's action list
export const TCA_ACT_KIND = 1;
export const TCA_ACT_OPTIONS = 2;
export const TCA_ACT_INDEX = 3;
export const TCA_ACT_STATS = 4;
export const TCA_ACT_COOKIE = 6;
export const TCA_ACT_FLAGS = 7;
/** TC_COOKIE_MAX_SIZE */
export const TC_COOKIE_MAX_SIZE = 16;

// enum TCA_STATS_* (linux/gen_stats.h), inside TCA_ACT_STATS
export const TCA_STATS_BASIC = 1;
export const TCA_STATS_PKT64 = 8;

// tc action verdicts (linux/pkt_cls.h)
export const TC_ACT_UNSPEC = -1;
export const TC_ACT_OK = 0;
export const TC_ACT_RECLASSIFY = 1;
export const TC_ACT_SHOT = 2;
export const TC_ACT_PIPE = 3;
export const TC_ACT_STOLEN = 4;
export const TC_ACT_QUEUED = 5;
export const TC_ACT_REPEAT = 6;
export const TC_ACT_REDIRECT = 7;
export const TC_ACT_TRAP = 8;

// ETH_P_* (if_ether.h), as they go in tcm_info (network order, see tcmsg.ts)
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
