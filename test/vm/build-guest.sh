#!/usr/bin/env bash
# test/vm/build-guest.sh DIR — builds the guest that test/vm/run.sh boots, into DIR, from Debian
# packages only: Debian's stock kernel (linux-image-amd64 → 6.1.x on bookworm, which has
# act_skbedit, act_police, act_gact, cls_bpf … as modules), busybox-static for the guest's PID 1
# (test/vm/guest-init), kmod's depmod and cpio for the initramfs. Installs whatever of
# qemu-system-x86, busybox-static, kmod, cpio is missing. Needs root and apt; about a minute.
# Writes DIR/vmlinuz, DIR/initrd.gz, DIR/kernel-version, and DIR/ready last (run.sh's signal).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-guest.sh DIR}
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
need=()
[ -x /usr/bin/qemu-system-x86_64 ] || need+=(qemu-system-x86)
# the initramfs has no libc: busybox must be the static build (Debian's plain busybox is dynamic)
bb=$(LC_ALL=C ldd /bin/busybox 2>&1 || true)
case "$bb" in *'not a dynamic'*|*'statically linked'*) ;; *) need+=(busybox-static) ;; esac
[ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || need+=(kmod)
[ -x /usr/bin/cpio ] || [ -x /bin/cpio ] || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  echo "build-guest: installing ${need[*]}" >&2
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
pkg=$(kernel_pkg)
[ -n "$pkg" ] || { apt_get update -qq; pkg=$(kernel_pkg); }
[ -n "$pkg" ] || { echo "build-guest: apt knows no linux-image-amd64" >&2; exit 1; }
echo "build-guest: downloading $pkg" >&2
apt-get download "$pkg" >/dev/null
dpkg -x ./*.deb root
kv=$(ls root/lib/modules)
src=root/lib/modules/$kv; ir=$work/ir; dst=$ir/lib/modules/$kv
mkdir -p "$ir"/{bin,sbin,proc,sys,dev,host,ctl} "$dst/kernel/drivers/net" "$dst/kernel/fs" "$dst/kernel/arch/x86"
cp /bin/busybox "$ir/bin/"
for a in sh mount umount insmod modprobe poweroff chroot mkdir echo cat sleep ls sync; do ln -s busybox "$ir/bin/$a"; done
ln -s ../bin/busybox "$ir/sbin/modprobe"
# only what the tests use: networking (nf_tables, sched, veth, wireguard…), its libraries, virtio + 9p
cp -r "$src/kernel/net" "$src/kernel/lib" "$src/kernel/crypto" "$dst/kernel/"
cp -r "$src/kernel/drivers/virtio" "$dst/kernel/drivers/"
for m in veth dummy ifb nlmon virtio_net net_failover wireguard; do cp "$src/kernel/drivers/net/$m.ko" "$dst/kernel/drivers/net/" 2>/dev/null || true; done
cp -r "$src/kernel/drivers/net/wireguard" "$dst/kernel/drivers/net/" 2>/dev/null || true
cp -r "$src/kernel/fs/9p" "$src/kernel/fs/netfs" "$src/kernel/fs/fscache" "$dst/kernel/fs/"
cp -r "$src/kernel/arch/x86/crypto" "$dst/kernel/arch/x86/" 2>/dev/null || true
cp "$src"/modules.order "$src"/modules.builtin "$src"/modules.builtin.modinfo "$dst/"
depmod -b "$ir" "$kv"
install -m 755 "$here/guest-init" "$ir/init"
mkdir -p "$out"
rm -f "$out/ready"
(cd "$ir" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$out/initrd.gz")
cp "root/boot/vmlinuz-$kv" "$out/vmlinuz"
echo "$kv" > "$out/kernel-version"
echo "$pkg" > "$out/kernel-package"
touch "$out/ready"
echo "build-guest: guest kernel $kv ready in $out" >&2
