#!/bin/bash
# Provisioning recipe for the `ns` sandbox: a Debian userland with the podman stack and CRIU >= 4.2.
# Run by the sandbox crate as: provision.sh ROOTFS SUITE MIRROR, inside a private mount namespace
# (so the bind mounts below vanish with it, whatever happens). The sandbox cache is keyed by a hash of
# this file, so any change here rebuilds. Lines starting with "STEP " are shown as progress.
set -euo pipefail

rootfs=$1
suite=$2
mirror=$3

step() { echo "STEP $*"; }
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

step "debootstrap $suite (minbase)"
# Suites newer than this host's debootstrap knows use the sid script (same layout).
script=/usr/share/debootstrap/scripts/$suite
[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" "$script" \
    >"$rootfs.debootstrap.log" 2>&1 || { tail -n 20 "$rootfs.debootstrap.log" >&2; exit 1; }
rm -f "$rootfs.debootstrap.log"

# apt inside the chroot needs the kernel filesystems; this namespace is private, so these mounts
# disappear when provisioning ends.
mount -t proc proc "$rootfs/proc"
mount --rbind /dev "$rootfs/dev"
mount -t sysfs sysfs "$rootfs/sys"

step "apt sources ($suite + CRIU from forky)"
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
EOF
# CRIU >= 4.2 is needed on kernels >= 6.16 (4.1.1 cannot dump inet sockets). Take it, and only it,
# from forky. The mirror may serve a frozen snapshot whose Release has expired: check-valid-until=no.
if [ "$suite" != forky ]; then
    cat >"$rootfs/etc/apt/sources.list.d/forky.list" <<EOF
deb [check-valid-until=no] $mirror forky main
EOF
    cat >"$rootfs/etc/apt/preferences.d/forky-criu" <<EOF
Package: *
Pin: release n=forky
Pin-Priority: 100
EOF
fi
cat >"$rootfs/etc/apt/apt.conf.d/90sandbox" <<EOF
APT::Install-Recommends "false";
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
EOF
in_root apt-get update -q >/dev/null

step "install the podman stack (podman, crun, runc, conmon, netavark)"
in_root apt-get install -y -q podman crun runc conmon netavark nftables iptables catatonit \
    busybox-static util-linux zstd gzip iproute2 procps jq >/dev/null

step "install CRIU >= 4.2"
if [ "$suite" = forky ]; then
    # crun >= 1.26 loads libcriu.so.2 at run time: without libcriu2 every checkpoint fails.
    in_root apt-get install -y -q criu libcriu2 >/dev/null
else
    in_root apt-get install -y -q -t forky criu libcriu2 >/dev/null
fi
criu_version=$(in_root criu --version | sed -n 's/^Version: //p')
case "$criu_version" in
    4.[2-9]*|4.[1-9][0-9]*|[5-9].*) ;;
    *) echo "CRIU $criu_version installed, but >= 4.2 is needed" >&2; exit 1 ;;
esac
step "install the third-party readers (checkpointctl, crit, skopeo), podman-remote, runsc, a browser"
# Independent judges of what a target produced: checkpointctl reads exported archives, crit
# (python3-pycriu) decodes CRIU's images, skopeo reads images; podman-remote is a target of its own;
# runsc (gVisor) is a runtime the matrix probes; chromium-headless-shell renders the scoreboard in
# its test (a real browser, no network).
in_root apt-get install -y -q checkpointctl python3-pycriu skopeo podman-remote runsc \
    chromium-headless-shell >/dev/null
in_root checkpointctl --help >/dev/null
in_root crit --help >/dev/null
in_root runsc --version >/dev/null
in_root chromium-headless-shell --version >/dev/null
in_root apt-get clean

step "container and CRIU configuration"
mkdir -p "$rootfs/etc/containers" "$rootfs/etc/criu"
cat >"$rootfs/etc/containers/containers.conf" <<EOF
[containers]
pids_limit = 0

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
EOF
# On a hybrid-cgroup host, CRIU must handle only the cgroup v2 line of /proc/PID/cgroup, or a crun
# restore tries to recreate the container cgroup in every v1 hierarchy and fails on cpuset.
cat >"$rootfs/etc/criu/default.conf" <<EOF
cgroup-dump-controller ""
EOF
cat >"$rootfs/etc/containers/registries.conf" <<EOF
unqualified-search-registries = []
EOF

step "test image localhost/busybox:latest"
# busybox-static plus util-linux flock (busybox has no flock applet) and the libraries it needs.
img=$(mktemp -d)
mkdir -p "$img/bin" "$img/tmp" "$img/etc" "$img/root" "$img/var" "$img/data"
chmod 1777 "$img/tmp"
cp "$rootfs/bin/busybox" "$img/bin/busybox"
for applet in $(in_root /bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$img/bin/$applet"
done
cp "$rootfs/usr/bin/flock" "$img/bin/flock"
for lib in $(in_root ldd /usr/bin/flock | grep -o '/[^ ]*'); do
    mkdir -p "$img$(dirname "$lib")"
    cp -L "$rootfs$lib" "$img$lib"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$img/etc/passwd"
echo "root:x:0:" >"$img/etc/group"
echo "welcome to the checkpoint test image" >"$img/etc/motd"
echo "deleted by the rootfs-changer workload" >"$img/etc/deleteme"
cp -a "$(dirname "$0")/workloads/." "$img/bin/"
tar -C "$img" -cf "$rootfs/root/busybox-image.tar" .
rm -rf "$img"
