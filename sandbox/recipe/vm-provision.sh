#!/bin/bash
# Provisioning recipe for the `vm` sandbox: turns a copy of the finished `ns` rootfs into a bootable
# disk image with Debian's own kernel (which, unlike the host's, tracks soft-dirty memory, so
# `--pre-checkpoint` works). Run by the sandbox crate as: vm-provision.sh NS_ROOTFS OUT, inside a
# private mount namespace (the chroot's bind mounts vanish with it). Writes OUT/vmlinuz,
# OUT/initrd.img and OUT/disk.img; its working copy OUT/rootfs is removed at the end.
# Lines starting with "STEP " are shown as progress.
set -euo pipefail

ns_rootfs=$1
out=$2
recipe=$(dirname "$0")
rootfs=$out/rootfs

step() { echo "STEP $*"; }
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

step "copy the ns rootfs"
cp -a --reflink=auto "$ns_rootfs" "$rootfs"
# A used ns rootfs may hold that sandbox's podman state: the guest starts with none.
rm -rf "$rootfs/var/lib/containers" "$rootfs/var/tmp/"*

mount -t proc proc "$rootfs/proc"
mount --rbind /dev "$rootfs/dev"
mount -t sysfs sysfs "$rootfs/sys"

step "install Debian's kernel (linux-image-amd64) and kmod"
# An initramfs with just what finds the root disk: MODULES=most makes it 3 times as large, and
# every MiB costs boot time under software emulation.
# (Files no package owns, so dpkg never asks about them.)
mkdir -p "$rootfs/etc/initramfs-tools/conf.d" "$rootfs/usr/share/initramfs-tools/modules.d"
echo "MODULES=list" >"$rootfs/etc/initramfs-tools/conf.d/ckpt-vm.conf"
printf '%s\n' virtio_pci virtio_blk ext4 >"$rootfs/usr/share/initramfs-tools/modules.d/ckpt-vm"
in_root apt-get update -q >/dev/null
in_root apt-get install -y -q linux-image-amd64 kmod >/dev/null
in_root apt-get clean

step "guest init and command agent"
install -m 755 "$recipe/vm-init.sh" "$rootfs/sbin/vm-init"
install -m 755 "$recipe/vm-agent.sh" "$rootfs/sbin/vm-agent"
cp -L "$rootfs/vmlinuz" "$out/vmlinuz"
cp -L "$rootfs/initrd.img" "$out/initrd.img"
umount -R "$rootfs/dev" "$rootfs/proc" "$rootfs/sys"

step "ext4 disk image (4 GiB, sparse)"
mkfs.ext4 -q -F -L ckpt-vm -d "$rootfs" "$out/disk.img" 4G >/dev/null
rm -rf "$rootfs"
