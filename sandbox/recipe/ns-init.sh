#!/bin/bash
# First process of the `ns` sandbox: PID 1 of fresh PID, mount and network namespaces, started by
# `unshare --pid --mount --net --fork --propagation private`. It gives the sandbox its own kernel
# filesystems and a pure cgroup2 hierarchy, makes SHARE visible at the same path inside, enters ROOTFS
# with pivot_root and becomes catatonit, which reaps orphans (conmon double-forks) until killed.
# Usage: ns-init.sh ROOTFS SHARE
set -euo pipefail
rootfs=$1
share=$2

mount --bind "$rootfs" "$rootfs"
mount -t proc proc "$rootfs/proc"
mount -t sysfs sysfs "$rootfs/sys"
# A pure cgroup2 mount, whatever the host has: CRIU and crun need the v2 freezer.
mount -t cgroup2 cgroup2 "$rootfs/sys/fs/cgroup"
mount --rbind /dev "$rootfs/dev"
mount -t tmpfs -o mode=755 tmpfs "$rootfs/run"
mount -t tmpfs -o mode=1777 tmpfs "$rootfs/tmp"
mkdir -p "$rootfs$share"
mount --bind "$share" "$rootfs$share"

cd "$rootfs"
mkdir -p .old-root
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
ip link set lo up
# The host finds this file through /proc/PID/root to recognise the sandbox as its own.
echo "$rootfs" >/run/sandbox-ready
exec catatonit -P
