#!/bin/bash
# First process of the `vm` sandbox's guest (the kernel runs it as init=/sbin/vm-init): mounts the
# kernel filesystems and a pure cgroup2 hierarchy, mounts the host's share folder at the same absolute
# path as on the host (archives are passed by path) and the agent's request folder, imports the test
# image, then runs vm-agent under catatonit, which reaps orphans (conmon double-forks).
# The kernel command line carries ckpt.share=PATH.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8

# Anything failing here is printed on the serial console, which the host shows when start fails.
fail() { echo "vm-init: $*" >&2; sleep 1; echo o >/proc/sysrq-trigger; exit 1; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The initramfs moved its devtmpfs here; mount one when booted without it.
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
# Pure cgroup2 with every controller delegated below the root: podman and CRIU need the v2 freezer,
# and the guest kernel has all controllers (unlike the ns sandbox's host).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
sed 's/\([^ ]*\)/+\1/g' /sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control ||
    fail "could not enable the cgroup2 controllers"
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp

share=$(sed -n 's/.*ckpt\.share=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -n "$share" ] || fail "no ckpt.share=PATH on the kernel command line"
modprobe -a 9p 9pnet_virtio || fail "could not load the 9p modules"
mkdir -p "$share" /run/ckpt-agent
# cache=none (the default): requests written by the host are seen at once.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 share "$share" ||
    fail "could not mount the share folder at $share"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 agent /run/ckpt-agent ||
    fail "could not mount the agent folder"

ip link set lo up
hostname ckpt-vm

if ! podman image exists localhost/busybox:latest; then
    podman import --quiet /root/busybox-image.tar localhost/busybox:latest >/dev/null ||
        fail "importing the test image failed"
fi
exec catatonit -- /bin/bash /sbin/vm-agent /run/ckpt-agent
