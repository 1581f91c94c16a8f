#!/usr/bin/env bash
# On a host with an NVIDIA driver: list the GPUs through NVML, take one usage sample, and run
# one monitor tick (its GPU watch), all in a throwaway installation of its own (a temporary
# root with no users and no bookings), so nothing of a real installation is read or changed.
#
#   scripts/gpu-check.sh [BIN_DIR]     # BIN_DIR: where checker and monitor are (default:
#                                      # target/release, built with cargo when missing)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$repo/target/release}
if [ ! -x "$bin/checker" ] || [ ! -x "$bin/monitor" ]; then
  (cd "$repo" && cargo build --release -p checker -p monitor)
  bin=$repo/target/release
fi
root=$(mktemp -d /tmp/aivc-gpu-check.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/cfg" "$root/jobs" "$root/vol/work" "$root/vol/backup" "$root/vol/dataset"
gpus=$( (nvidia-smi --list-gpus 2>/dev/null || true) | wc -l)
cat > "$root/cfg/host_deploy.yaml" <<YAML
volume_work_dir: ./vol/work
volume_dataset_dir: ./vol/dataset
volume_backup_dir: ./vol/backup
users_config_yaml: ./cfg/users_config.yaml
capability_config_yaml: ./cfg/capability_config.yaml
images: [aivc/workspace:latest]
timezone: UTC
YAML
cat > "$root/cfg/capability_config.yaml" <<YAML
max: {cpus: 1, ram: 1, swap_size: 0, gpus: ${gpus:-0}, backup_space: 1, work_space: 1}
allow_userIDs: []
YAML
: > "$root/cfg/users_config.yaml"
chmod 600 "$root/cfg/users_config.yaml"
for t in booking using used; do
  echo "start,end,user_id,cpus,memory,gpus,forward_port,image,extra_command" > "$root/jobs/$t.csv"
done
: > "$root/jobs/monitor_exec"

# checker exits 1 when it finds problems: they are what this prints.
json=$("$bin/checker" --root "$root" --json || true)
echo "== NVML listing (checker --json: gpus)"
python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["gpus"], indent=1))' <<<"$json"
echo "== problems (a process on a GPU no running booking holds is gpu_unbooked_process)"
python3 -c 'import json,sys; [print(p["code"], p["message"]) for p in json.load(sys.stdin)["problems"]]' <<<"$json"
echo "== one usage sample (monitor --sample)"
"$bin/monitor" --root "$root" --sample || echo "(monitor --sample exited $?)"
cat "$root"/jobs/usage/*.csv 2>/dev/null || echo "(no samples written)"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  echo "== one tick: the GPU watch (monitor)"
  "$bin/monitor" --root "$root" || echo "(monitor exited $?)"
  cat "$root/jobs/monitor.log" 2>/dev/null || true
else
  echo "== no Docker engine here: the tick (and its GPU watch) is skipped"
fi
