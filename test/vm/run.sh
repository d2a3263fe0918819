#!/usr/bin/env bash
# test/vm/run.sh [--env NAME=VALUE]... [--rebuild] -- COMMAND [ARGS...]
#
# Runs COMMAND as root inside Debian's stock kernel under qemu and exits with its exit code.
# The guest sees this machine's root filesystem read-only (node, nft, tc, ip, node_modules), the
# current directory read-write at the same path, empty tmpfs /tmp and /run, cgroup2 and bpffs
# mounted. COMMAND runs in the current directory with PATH and HOME=/tmp, PKTMARK_VM=1 and each
# --env. Output comes back on stdout.
#
# The guest (kernel + initramfs) is built on first use by build-guest.sh from Debian packages and
# cached in $PKTMARK_VM_CACHE (default /var/cache/pktmark-vm) under a key made from the content of
# build-guest.sh and guest-init: a changed harness rebuilds; the three most recently used are kept.
# Rebuild by hand: `test/vm/run.sh --rebuild -- true`, or `rm -rf /var/cache/pktmark-vm`.
#
# KVM on this kind of machine cannot boot a stock kernel, so qemu emulates the CPU (TCG): ~10 s to
# boot, everything inside several times slower. Batch all VM checks into one command.
#   PKTMARK_VM_KVM=1       use KVM where /dev/kvm works
#   PKTMARK_VM_MEM=MiB     guest memory (default 1024)
#   PKTMARK_VM_TIMEOUT=s   kill qemu after this many seconds (default 1200)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
envs=() rebuild=0
while [ $# -gt 0 ]; do
  case "$1" in
    --env) envs+=("$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: run.sh [--env NAME=VALUE]... [--rebuild] -- COMMAND [ARGS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (qemu with 9p shares of /, apt for the first build)" >&2; exit 2; }

root=${PKTMARK_VM_CACHE:-/var/cache/pktmark-vm}
key=$(cat "$here/build-guest.sh" "$here/guest-init" | sha256sum | cut -c1-16)
cache=$root/$key
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9   # one build at a time; concurrent runs wait for it, then share it
if [ "$rebuild" = 1 ] || [ ! -f "$cache/ready" ]; then
  echo "run.sh: building the guest into $cache (first use of this harness version)" >&2
  rm -rf "$cache"
  "$here/build-guest.sh" "$cache" >&2
  # keep the three most recently used guests (worktrees on other harness versions share the cache)
  ls -dt "$root"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
fi
touch "$cache"   # most recently used
flock -u 9

ctl=$(mktemp -d); trap 'rm -rf "$ctl"' EXIT
printf '%s' "$PWD" > "$ctl/share"
{
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'export PATH=%q HOME=/tmp PKTMARK_VM=1\n' "$PATH"
  for e in ${envs[@]+"${envs[@]}"}; do printf 'export %q\n' "$e"; done
  printf '%q ' "$@"; echo
} > "$ctl/cmd.sh"
accel=(-accel tcg)
[ "${PKTMARK_VM_KVM:-}" = 1 ] && [ -w /dev/kvm ] && accel=(-enable-kvm -cpu host)
timeout --foreground "${PKTMARK_VM_TIMEOUT:-1200}" \
  qemu-system-x86_64 "${accel[@]}" -m "${PKTMARK_VM_MEM:-1024}" -smp 2 -nographic -no-reboot -nodefaults \
  -serial stdio -kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=0 panic=-1 rdinit=/init" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$ctl",mount_tag=ctl,security_model=none \
  -virtfs local,path="$PWD",mount_tag=share,security_model=none </dev/null \
  | tr -d '\r' | awk 'on { print; next } /PKTMARK-VM-BEGIN/ { on = 1 } /PKTMARK-VM: / { print }' \
  | sed -e 's/\x1bc//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' || true
[ -f "$ctl/rc" ] || { echo "run.sh: the guest did not report an exit code (kernel $(cat "$cache/kernel-version"))" >&2; exit 124; }
exit "$(cat "$ctl/rc")"
