#!/usr/bin/env bash
# The whole system on a throwaway root: a student books from now, a monitor tick starts the
# container (a real one when a Docker engine answers and the stand-in image builds, else the
# dry run of it, saying why), checker and the dashboard show the state, and a tick at the booking's end
# removes it. Prints where the root stays.
#
# The engine may be a lab's: the demo is an installation of its own (its root's
# cfg/installation-id labels its container), its student and image get names of this run's
# own, and it removes only what it made.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
step() { echo; echo "==> $*" >&2; }

step "building (debug: the end-of-booking tick fixes the clock with AIVC_NOW)"
cargo build --quiet --workspace --bins
bin=$repo/target/debug
export AIVC_RUN_CONTAINER=$bin/run-container

root=$(mktemp -d "${TMPDIR:-/tmp}/aivc-demo.XXXXXX")
# A student id no one else on this engine has: the container takes its name.
user=demo$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
step "throwaway root $root, from cfg/templates"
mkdir -p "$root/cfg/templates" "$root/jobs"
cp cfg/templates/* "$root/cfg/templates/"
for f in host_deploy capability_config users_config; do cp "cfg/templates/$f.yaml" "$root/cfg/"; done
for t in booking using used; do cp cfg/templates/schedule.csv "$root/jobs/$t.csv"; done
: > "$root/jobs/monitor_exec"; : > "$root/jobs/monitor.log"
sed -i "s|/srv/aivc/|$root/vol/|" "$root/cfg/host_deploy.yaml"
sed -i "s/^  -\$/  - $user/" "$root/cfg/capability_config.yaml"

# A real container needs an engine that answers and the stand-in image, built from a static
# busybox (AIVC_BUSYBOX, else /bin/busybox); `why` says which of them is missing.
busybox=${AIVC_BUSYBOX:-/bin/busybox}
engine=0 why=
if ! command -v docker >/dev/null; then
  why="there is no docker client on this machine"
elif ! err=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
  why="no Docker engine answers: $(echo "$err" | tail -n1)"
elif ! [ -x "$busybox" ]; then
  why="there is no $busybox, and the stand-in image is built from a static busybox (apt-get install busybox-static; scripts/test.sh installs it)"
elif command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
  why="$busybox is not statically linked, and the stand-in image needs a static one (apt-get install busybox-static)"
else
  step "Docker answers: building the stand-in workspace image (static busybox; nothing is pulled)"
  ctx=$(mktemp -d)
  cp tests/fixtures/images/sshd-standin/* "$ctx/"
  cp "$busybox" "$ctx/busybox"
  image=aivc-demo/sshd-standin:$user
  if err=$(docker build -q -t "$image" "$ctx" 2>&1 >/dev/null); then
    engine=1
    sed -i "s|  - aivc/workspace:latest|  - $image|" "$root/cfg/host_deploy.yaml"
  else
    why="the stand-in image did not build: $(echo "$err" | tail -n1)"
  fi
  rm -rf "$ctx"
fi
"$bin/checker" --root "$root" validate

step "booking: $user signs up and books 1 cpu and 1 GB from now for one day"
line=$(echo 'demo-pass-1' | "$bin/booking" --root "$root" --yes --password-stdin \
  --user-id "$user" --cpus 1 --memory 1 --start now --end 1-day)
echo "$line"
end=$(echo "$line" | cut -d, -f2 | cut -c1-16)
"$bin/booking" --root "$root" -ls

if [ "$engine" = 1 ]; then
  step "monitor: the tick the path unit runs for a booking that starts now"
  "$bin/monitor" --root "$root"
  ours=label=aivc.installation=$(cat "$root/cfg/installation-id")
  docker ps --filter "$ours" --format 'container {{.Names}}: {{.Status}}, ports {{.Ports}}'
else
  step "no real container: $why; what the tick would do instead"
  "$bin/monitor" --root "$root" --dry-run
fi

step "checker"
"$bin/checker" --root "$root" || true

step "dashboard: the same state on the web (a free loopback port; stopped right after)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/dashboard" --root "$root" --listen "127.0.0.1:$port" 2>/dev/null &
dash=$!
for _ in $(seq 50); do python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/metrics')" 2>/dev/null && break; sleep 0.1; done
python3 - "$port" <<'PY'
import sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
for path in ["/", "/now", "/waitlist", "/problems", "/usage", "/api/v1/state", "/metrics"]:
    with urllib.request.urlopen(base + path) as r:
        print("%s %s  %s, %d bytes" % (r.status, path, r.headers["Content-Type"], len(r.read())))
with urllib.request.urlopen(base + "/metrics") as r:
    print("\n".join(l for l in r.read().decode().splitlines() if l.startswith(("aivc_gpu_booked", "aivc_bookings"))))
PY
kill "$dash"

if [ "$engine" = 1 ]; then
  step "monitor at the booking's end ($end): the container is removed"
  AIVC_NOW=$end "$bin/monitor" --root "$root"
  docker ps -a --filter "$ours" --format '{{.Names}}' | grep -q . && echo "still there?" || echo "container $user: gone"
  docker rmi "$image" >/dev/null
  step "jobs/used.csv and jobs/monitor.log"
  cat "$root/jobs/used.csv" "$root/jobs/monitor.log"
fi
step "done; the root stays at $root"
