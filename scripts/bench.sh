#!/usr/bin/env bash
# The benchmark report of docs/benchmarks.md: each tool as a whole process (and the two hot
# library paths in process) at 100 to 100,000 rows in the original format, medians of
# repeated runs next to a baseline from the same run, peak memory from GNU time.
#   scripts/bench.sh                 # AIVC_BENCH_ROWS=100,1000 for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
export AIVC_BENCH_ROWS=${AIVC_BENCH_ROWS:-100,1000,10000,100000}
command -v /usr/bin/time >/dev/null || echo "bench: no GNU time (apt-get install time): peak memory shows n/a" >&2
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(uname -sr)"
echo "rows: $AIVC_BENCH_ROWS"
for target in "hostinfo load" "booking booking" "checker checker" "monitor tick" "dashboard dashboard" "dashboard web"; do
  set -- $target
  echo
  echo "## $1 ($2)"
  cargo bench --quiet -p "$1" --bench "$2" 2>/dev/null | grep -v '^$' | grep -vE '^(running|test result)' || true
done
