#!/usr/bin/env bash
# Builds the tools, makes a throwaway installation root from cfg/templates, and shows its
# state: what a lab admin sees on a fresh host. Leaves the root in place and prints where.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

echo "==> building" >&2
cargo build --quiet --workspace
bin="$repo/target/debug"

root=$(mktemp -d "${TMPDIR:-/tmp}/aivc-demo.XXXXXX")
echo "==> throwaway root: $root" >&2
mkdir -p "$root/cfg/templates" "$root/jobs"
cp cfg/templates/*.yaml cfg/templates/schedule.csv "$root/cfg/templates/"
for f in host_deploy capability_config users_config; do
  cp "cfg/templates/$f.yaml" "$root/cfg/$f.yaml"
done
for t in booking using used; do
  cp cfg/templates/schedule.csv "$root/jobs/$t.csv"
done
: > "$root/jobs/monitor_exec"
: > "$root/jobs/monitor.log"
# One user so there is someone who may book.
sed -i 's/^  -$/  - demo/' "$root/cfg/capability_config.yaml"

echo "==> checker validate" >&2
"$bin/checker" --root "$root" validate
echo "==> booking: user demo signs up and books 1 cpu, 1 GB from now for 2 hours" >&2
echo 'demo-pass-1' | "$bin/booking" --root "$root" --yes --password-stdin \
  --user-id demo --cpus 1 --memory 1 --start now --end "$(date -d '+2 hours' '+%Y-%m-%d %H:00')" \
  || echo 'demo-pass-1' | "$bin/booking" --root "$root" --yes --password-stdin \
       --user-id demo --cpus 1 --memory 1 --start now --end 1-day
echo "==> booking -ls" >&2
"$bin/booking" --root "$root" -ls
echo "==> checker (summary)" >&2
"$bin/checker" --root "$root"
echo "==> checker --json (first 300 bytes)" >&2
"$bin/checker" --root "$root" --json | head -c 300
echo
echo "==> done; the root stays at $root" >&2
