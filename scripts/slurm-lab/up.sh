#!/bin/bash
# up.sh [DIR] — throwaway 2-node Slurm 22.05 cluster on loopback (Debian bookworm packages).
# Needs root. Everything lives under DIR (default: mktemp), except fake GPU char devices
# (/dev/fakegpu0..3, made only if missing; FAKEGPU_DIR=... to put them elsewhere).
# Prints "export SLURM_CONF=..." on success; down.sh DIR undoes it.
set -euo pipefail
D=${1:-$(mktemp -d /tmp/slurmlab.XXXXXX)}
mkdir -p "$D"; D=$(cd "$D" && pwd)
chmod 755 "$D"
FG=${FAKEGPU_DIR:-/dev}
t0=$(date +%s.%N)

freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
CTLD_PORT=$(freeport); N0_PORT=$(freeport); N1_PORT=$(freeport)
while [ "$N0_PORT" = "$CTLD_PORT" ]; do N0_PORT=$(freeport); done
while [ "$N1_PORT" = "$CTLD_PORT" ] || [ "$N1_PORT" = "$N0_PORT" ]; do N1_PORT=$(freeport); done

mkdir -p "$D/etc" "$D/state" "$D/log" "$D/run" "$D/munge" "$D/spool-node0" "$D/spool-node1"
chmod 755 "$D/munge"   # 700 makes the socket unreachable for non-root clients (squeue as a student)

# fake GPUs: char devices (major 195 = nvidia, minor 0..3); created only if absent
mkdir -p "$FG"
for i in 0 1 2 3; do
  if [ ! -e "$FG/fakegpu$i" ]; then
    if [ -n "${FAKEGPU_PLAIN:-}" ]; then : > "$FG/fakegpu$i"; else mknod "$FG/fakegpu$i" c 195 $i; fi
    echo "$FG/fakegpu$i" >> "$D/created-devices"
  fi
  chmod 666 "$FG/fakegpu$i"
done

# munge: own key, own socket, own pid/log/seed
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
SOCK="$D/munge/munge.sock"
munged --force --socket="$SOCK" --key-file="$D/munge/munge.key" \
  --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"

CPUS=${CPUS:-8}   # declared CPUs; may exceed the real count thanks to SlurmdParameters=config_overrides
cat > "$D/etc/slurm.conf" <<CONF
ClusterName=aivclab
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool-%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_min_interval=0
ReturnToService=2
ResvOverRun=0
MinJobAge=5
KillWait=2
InactiveLimit=0
MpiDefault=none
SlurmdParameters=config_overrides
GresTypes=gpu
Licenses=gpu_node0:4,gpu_node1:4
${EXTRA_CONF:-}
NodeName=node0 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$N0_PORT CPUs=$CPUS RealMemory=${MEMORY_MB:-64000} Gres=gpu:4 State=UNKNOWN
NodeName=node1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$N1_PORT CPUs=$CPUS RealMemory=${MEMORY_MB:-64000} Gres=gpu:4 State=UNKNOWN
PartitionName=lab Nodes=node0,node1 Default=YES MaxTime=INFINITE State=UP
CONF
cat > "$D/etc/gres.conf" <<CONF
NodeName=node[0-1] Name=gpu File=$FG/fakegpu[0-3]
CONF
if [ -n "${JOB_SUBMIT_LUA:-}" ]; then   # read from the slurm.conf dir
  cp "$JOB_SUBMIT_LUA" "$D/etc/job_submit.lua"; echo "JobSubmitPlugins=lua" >> "$D/etc/slurm.conf"
fi
export SLURM_CONF="$D/etc/slurm.conf"

slurmctld -f "$SLURM_CONF"            # daemonizes; writes SlurmctldPidFile
slurmd -f "$SLURM_CONF" -N node0
slurmd -f "$SLURM_CONF" -N node1

for i in $(seq 1 300); do
  n=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)
  [ "$n" -ge 2 ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
if [ "$n" -lt 2 ]; then echo "cluster not idle after 30s; logs in $D/log" >&2; sinfo -N >&2 || true; exit 1; fi
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "up in %.2fs (both nodes idle)\n", b - a }' >&2
echo "export SLURM_CONF=$SLURM_CONF"
