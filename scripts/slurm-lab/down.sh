#!/bin/bash
# down.sh DIR — stops exactly what up.sh DIR started (daemons by their pid files; job processes
# found by SLURM_CONF=DIR/etc/slurm.conf in their environment) and removes DIR.
set -u
D=${1:?usage: down.sh DIR}; D=$(cd "$D" 2>/dev/null && pwd) || { echo "no such dir" >&2; exit 1; }
[ -f "$D/etc/slurm.conf" ] || [ -f "$D/run/munged.pid" ] || { echo "not an up.sh dir: $D" >&2; exit 1; }
export SLURM_CONF="$D/etc/slurm.conf"
stop() { # pidfile
  local f=$1 p; [ -f "$f" ] || return 0; p=$(cat "$f"); [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
}
if [ -f "$SLURM_CONF" ]; then   # absent when up.sh failed before writing it: munged alone then
# 1. cancel every job of this cluster (all users) while slurmd can still run epilogs
jobs=$(timeout 5 squeue -h -o %i 2>/dev/null)
[ -n "$jobs" ] && timeout 5 scancel $jobs 2>/dev/null
for _ in $(seq 1 50); do [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
fi
# 2. daemons, by pid file
stop "$D/run/slurmd-node0.pid"; stop "$D/run/slurmd-node1.pid"
stop "$D/run/slurmctld.pid"
# 3. leftovers (slurmstepd, job scripts) that carry this cluster's SLURM_CONF
for e in /proc/[0-9]*/environ; do
  p=${e#/proc/}; p=${p%/environ}; [ "$p" = $$ ] && continue
  { tr "\0" "\n" < "$e"; } 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" && kill -9 "$p" 2>/dev/null
done
stop "$D/run/munged.pid"
[ -f "$D/created-devices" ] && xargs -r rm -f < "$D/created-devices"
rm -rf "$D"
