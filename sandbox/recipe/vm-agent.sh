#!/bin/bash
# The `vm` sandbox's command agent, in the guest. The host asks it to run a command by creating a
# folder DIR/<id>.req holding `argv` (NUL-separated) — written under another name, then renamed, so
# a request is whole once it appears. The agent claims it (renames it to <id>.run), runs it in the
# background with a clean environment, and writes `stdout`, `stderr` and, last, `exit` (renamed into
# place, so the host never reads a half-written status). Requests run concurrently: one that hangs
# does not hold up the others (the suite kills its own commands with timeout(1) inside).
# Usage: vm-agent DIR [TICK_DIR]  (TICK_DIR, default /run: where its private FIFO goes)
set -u
dir=$1
tick_fifo=${2:-/run}/vm-agent.tick

run() {
    local req=$1 argv
    mapfile -d '' -t argv <"$req/argv"
    (cd / && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LC_ALL=C.UTF-8 TMPDIR=/var/tmp "${argv[@]}") \
        </dev/null >"$req/stdout" 2>"$req/stderr"
    echo $? >"$req/exit.tmp"
    mv "$req/exit.tmp" "$req/exit"
}

# Sleep with a builtin (read -t on a FIFO nobody writes): an idle poll costs no fork.
mkfifo "$tick_fifo"
exec 3<>"$tick_fifo"
cat /proc/sys/kernel/random/boot_id >"$dir/ready.tmp"
mv "$dir/ready.tmp" "$dir/ready"
# Poll every 20 ms while commands come, every 200 ms after 2 s without one: under emulation each
# poll costs the host CPU, and an idle guest should cost little.
idle=0
while :; do
    idle=$((idle + 1))
    for req in "$dir"/*.req; do
        [ -d "$req" ] || continue
        idle=0
        claimed=${req%.req}.run
        mv "$req" "$claimed" && { run "$claimed" & }
    done
    if [ "$idle" -lt 100 ]; then tick=0.02; else tick=0.2; fi
    read -r -t "$tick" -u 3 _ || true
done
