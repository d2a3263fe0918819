#!/bin/sh
# Installs what pktmark needs on a fresh Debian machine (run as root), then the npm packages.
#   sh .ci/setup.sh          npm packages only (library, CLI)
#   sh .ci/setup.sh --demo   + iproute2 (the demo builds namespaces and a veth pair)
#   sh .ci/setup.sh --test   + nftables, iproute2, iptables, strace (oracles for the tests)
set -eu
cd "$(dirname "$0")/.."
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: pktmark needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
case "${1:-}" in
  # oracles: nft, ip, tc, iptables-translate, strace (fixture capture); sysctl and openssl for test setup
  --test) bins="/usr/sbin/nft /usr/sbin/ip /usr/sbin/tc /usr/sbin/iptables /usr/bin/strace /usr/sbin/sysctl /usr/bin/openssl /usr/sbin/bpftool"; pkgs="nftables iproute2 iptables strace procps openssl bpftool" ;;
  --demo) bins="/usr/sbin/ip /usr/sbin/nft"; pkgs="iproute2 nftables" ;;
  *) bins=""; pkgs="" ;;
esac
missing=""
for b in $bins; do [ -x "$b" ] || missing="$missing $b"; done
if [ -n "$missing" ]; then
  echo "setup: installing $pkgs (missing:$missing)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $pkgs >/dev/null
fi
if [ -L node_modules ]; then
  # a worktree sharing another checkout's node_modules: npm ci would empty the shared directory
  # (it removes node_modules through the link) under every checkout using it. Leave it alone.
  [ -d node_modules/koffi ] || { echo "setup: node_modules is a link to a directory without koffi; run npm ci where it points" >&2; exit 1; }
elif [ ! -d node_modules/koffi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The CLI runs the compiled, bundled JavaScript (fast start-up); rebuild when a source is newer.
if [ ! -f dist/pktmark.cjs ] || [ -n "$(find src codecs build package.json -newer dist/pktmark.cjs -print -quit 2>/dev/null)" ]; then
  echo "setup: npm run build"
  npm run build --silent
fi
