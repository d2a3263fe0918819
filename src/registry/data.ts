/**
 * Who else uses which mark bits. Data from the fwmark registry, https://github.com/fwmark/registry/blob/42a6b07badda83801ece0f27caef78a678da7e92/README.md
 * ("The Linux Netfilter Packet Park [sic] Registry" by the Registry Authors: David Anderson, Joe Stringer,
 * Paul Chaignon), licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), with
 * entries marked `inRegistry: false` added from the sources cited in pktmark's copy of the data
 * (shared/data/fwmark-registry.json). Converted to this module (fields trimmed), not edited.
 * The registry is informative and non-binding.
 */
export const REGISTRY_ATTRIBUTION =
  'fwmark registry data: github.com/fwmark/registry (commit 42a6b07badda), by the Registry Authors (David Anderson, Joe Stringer, Paul Chaignon), CC BY 4.0';

export interface RegistryValue { readonly value: string; readonly mask?: string; readonly meaning: string }
export interface RegistryEntry {
  readonly software: string;
  /** `bitwise`: the software owns the bits in `mask`; `whole-mark`: it sets whole mark values */
  readonly style: 'bitwise' | 'whole-mark';
  readonly inRegistry: boolean;
  readonly purpose: string;
  readonly mask?: string;
  readonly bits?: string;
  readonly values: readonly RegistryValue[];
}

export const REGISTRY: readonly RegistryEntry[] = [
  {
    "software": "Cilium",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "eBPF datapath metadata: packet origin, proxy redirection, encryption state, security identity",
    "mask": "0xffff1fff",
    "bits": "0-12,16-31",
    "values": [
      {
        "value": "0x00000f00",
        "meaning": "MARK_MAGIC_HOST_MASK: 4-bit magic (0x0A00 proxy ingress, 0x0B00 proxy egress, 0x0C00 host, 0x0D00 decrypt, 0x0E00 encrypt, 0x0F00 identity, 0x0200 to-proxy)",
        "mask": "0x00000f00"
      },
      {
        "value": "<security identity>",
        "meaning": "security identity carried in upper 16 bits + lower 8 bits (halves swapped)",
        "mask": "0xffff00ff"
      },
      {
        "value": "<key index>",
        "meaning": "MARK_MAGIC_KEY_ID 0xF000: IPsec key index (bits 12-15) in v1.8-era common.h",
        "mask": "0x0000f000"
      }
    ]
  },
  {
    "software": "AWS VPC CNI (amazon-vpc-cni-k8s)",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "connmark/packet mark used to steer NodePort replies around source-based routing",
    "mask": "0x00000080",
    "bits": "7",
    "values": [
      {
        "value": "0x00000080",
        "meaning": "defaultConnmark: connmark for NodePort traffic so replies leave via the main ENI; configurable with AWS_VPC_K8S_CNI_CONNMARK",
        "mask": "0x00000080"
      }
    ]
  },
  {
    "software": "CNI portmap plugin (containernetworking/plugins)",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "masquerade marking for port-mapped traffic",
    "mask": "0x00002000",
    "bits": "13",
    "values": [
      {
        "value": "0x00002000",
        "meaning": "markMasqBit default 13: mark for hairpin/localhost SNAT (iptables backend)",
        "mask": "0x00002000"
      }
    ]
  },
  {
    "software": "Kubernetes (kubelet / kube-proxy iptables mode)",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "kube-proxy/kubelet iptables chains mark packets for masquerade and drop",
    "mask": "0x0000c000",
    "bits": "14-15",
    "values": [
      {
        "value": "0x00004000",
        "meaning": "KUBE-MARK-MASQ: IPTablesMasqueradeBit default 14 -> packet needs SNAT in POSTROUTING",
        "mask": "0x00004000"
      },
      {
        "value": "0x00008000",
        "meaning": "KUBE-MARK-DROP: IPTablesDropBit default 15 -> packet to be dropped",
        "mask": "0x00008000"
      }
    ]
  },
  {
    "software": "Calico (Felix)",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "Felix allocates its iptables mark bits from IptablesMarkMask",
    "mask": "0xffff0000",
    "bits": "16-31",
    "values": []
  },
  {
    "software": "Weave Net",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "IPsec ESP marking and network-policy egress marking",
    "mask": "0x00060000",
    "bits": "17-18",
    "values": [
      {
        "value": "0x00020000",
        "meaning": "IPsec (fast datapath encryption) mark, net/ipsec/ipsec.go: mark = 1<<17",
        "mask": "0x00020000"
      },
      {
        "value": "0x00040000",
        "meaning": "weave-npc EgressMark (network policy controller), npc/constants.go",
        "mask": "0x00040000"
      }
    ]
  },
  {
    "software": "Tailscale",
    "style": "bitwise",
    "inRegistry": true,
    "purpose": "policy routing (ip rule fwmark) and forwarding/SNAT decisions",
    "mask": "0x000c0000",
    "bits": "18-19",
    "values": [
      {
        "value": "0x00040000",
        "meaning": "SubnetRouteMark: packet from tailscale0 allowed to be forwarded/SNATed",
        "mask": "0x00ff0000"
      },
      {
        "value": "0x00080000",
        "meaning": "BypassMark: tailscaled's own sockets (SO_MARK) bypass Tailscale routes",
        "mask": "0x00ff0000"
      }
    ]
  },
  {
    "software": "OpenShift (ovn-kubernetes)",
    "style": "whole-mark",
    "inRegistry": true,
    "purpose": "gateway iptables rules",
    "values": [
      {
        "value": "any",
        "meaning": "sets whole mark values"
      }
    ]
  },
  {
    "software": "Antrea",
    "style": "whole-mark",
    "inRegistry": true,
    "purpose": "routing of traffic in policy-only mode",
    "values": [
      {
        "value": "0x00000800",
        "meaning": "policy-only mode routing mark"
      }
    ]
  },
  {
    "software": "Istio",
    "style": "whole-mark",
    "inRegistry": true,
    "purpose": "sidecar TPROXY inbound capture; ambient mode redirection to ztunnel",
    "values": [
      {
        "value": "0x1337 (as written in registry)",
        "meaning": "registry row"
      },
      {
        "value": "0x00000539",
        "meaning": "ISTIO_INBOUND_TPROXY_MARK default \"1337\" (decimal, = 0x539) passed to iptables --set-mark / ip rule fwmark (TPROXY inbound interception, route table 133)"
      },
      {
        "value": "0x00000539",
        "meaning": "ambient in-pod InpodMark 1337/0xfff (matches ztunnel's socket mark)",
        "mask": "0x00000fff"
      },
      {
        "value": "0x00000111",
        "meaning": "ambient in-pod InpodTProxyMark 0x111/0xfff -> ip rule lookup table 100",
        "mask": "0x00000fff"
      }
    ]
  },
  {
    "software": "AWS App Mesh",
    "style": "whole-mark",
    "inRegistry": true,
    "purpose": "Envoy traffic interception routing",
    "values": [
      {
        "value": "0x1e7700ce",
        "meaning": "APPMESH_PACKET_MARK: ip rule fwmark -> local route table 100 (proxy interception)"
      }
    ]
  },
  {
    "software": "WireGuard wg-quick (wireguard-tools)",
    "style": "whole-mark",
    "inRegistry": false,
    "purpose": "keeps WireGuard's own encrypted UDP out of the tunnel route (full-tunnel AllowedIPs)",
    "values": [
      {
        "value": "0x0000ca6c",
        "meaning": "fwmark = routing table id, default 51820 (0xca6c), incremented while that table is in use; 'ip rule add not fwmark $table table $table'"
      }
    ]
  },
  {
    "software": "Docker Swarm / libnetwork service load balancing",
    "style": "whole-mark",
    "inRegistry": false,
    "purpose": "IPVS fwmark-based virtual services for swarm VIPs",
    "values": [
      {
        "value": "0x00000100 and up",
        "meaning": "fwMarkCtr starts at 256 and increments per service load balancer; used by IPVS (mangle MARK --set-mark) inside service/ingress sandboxes"
      }
    ]
  },
  {
    "software": "ipftrace2 (convention in its docs)",
    "style": "whole-mark",
    "inRegistry": false,
    "purpose": "mark that ipft filters on (skb->mark & mask == mark & mask)",
    "values": [
      {
        "value": "0xdeadbeef",
        "meaning": "value used throughout ipftrace2 docs: 'ipft -m 0xdeadbeef'"
      }
    ]
  }
];
