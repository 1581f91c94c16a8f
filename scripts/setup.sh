#!/usr/bin/env bash
# Install or update an AIVC booking host (docs/maintainer-manual.md). Safe to run again: live files in cfg/
# and jobs/ are created from cfg/templates when missing and never overwritten.
#
#   scripts/setup.sh [--root DIR] [--prefix DIR] [--bin-dir DIR] [--booking-port PORT]
#                    [--base-image IMAGE] [--booking-name NAME] [--booking-image TAG]
#                    [--no-systemd] [--no-container] [--slurm]
#
#   --root DIR           the installation root (cfg/, jobs/); default: this checkout
#   --prefix DIR         where binaries and docs go; default /usr/local
#   --bin-dir DIR        install these built binaries instead of building (cargo build --release)
#   --booking-port N     host port of the booking container's ssh; default 10000
#   --base-image IMAGE   base of the booking container image; default debian:bookworm-slim
#   --booking-name NAME  name of the booking container; default aivc-booking
#   --booking-image TAG  tag of the booking container image; default aivc/booking:latest
#   --no-systemd         do not install the units (prints how to)
#   --no-container       do not build or start the booking container
#   --slurm              cluster mode (docs/cluster.md; needs cfg/cluster.yaml): also install
#                        the guard job_submit.lua next to slurm.conf (SLURM_CONF, else
#                        /etc/slurm/slurm.conf) and the Prolog/Epilog wrappers in
#                        PREFIX/lib/aivc, check slurm.conf's licenses against cluster.yaml,
#                        and print the slurm.conf lines still missing. Never restarts Slurm.
#                        On the controller: setup.sh --slurm. On each node (no monitor there):
#                        setup.sh --slurm --no-systemd --no-container, same --root.
#
# The root's cfg/installation-id (made here once) labels every container this installation
# starts; an existing booking container is replaced only when it carries this
# installation's label, so setup never removes a container of anyone else on the engine.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=$repo prefix=/usr/local bin_dir= port=10000 base=debian:bookworm-slim
name=aivc-booking image=aivc/booking:latest
systemd=1 container=1 slurm=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift ;;
    --prefix) prefix=$2; shift ;;
    --bin-dir) bin_dir=$2; shift ;;
    --booking-port) port=$2; shift ;;
    --base-image) base=$2; shift ;;
    --booking-name) name=$2; shift ;;
    --booking-image) image=$2; shift ;;
    --no-systemd) systemd=0 ;;
    --no-container) container=0 ;;
    --slurm) slurm=1 ;;
    # The help is the comment block at the top of this file, and nothing after it.
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "setup: $*" >&2; }
mkdir -p "$root"
root=$(cd "$root" && pwd)

# 0. The Python version this root may come from (docs/migrating.md). Its cron lines and its
# booking container would go on running beside the new tools, moving the same rows and
# writing the same files without our lock. The crontab is the admin's and the container is
# not one setup created, so setup removes neither: it names them, says exactly what to run,
# and stops before changing anything. The students' own containers are left running; the
# monitor adopts them (by name, using.csv row and port) and closes them at their end.
python_left=0
python_cron() {   # $1: a user whose crontab to read, or nothing for the caller's
  local who=${1:-} lines
  if [ -n "$who" ]; then
    lines=$(crontab -u "$who" -l 2>/dev/null || true)
  else
    lines=$(crontab -l 2>/dev/null || true)
    who=$(id -un 2>/dev/null || echo "this user")
  fi
  lines=$(printf '%s\n' "$lines" | grep -E 'src/monitor/(Monitor|check_restart)\.py' | grep -Ev '^[[:space:]]*#' || true)
  [ -n "$lines" ] || return 0
  python_left=1
  local u=
  [ -z "${1:-}" ] || u="-u $1 "
  say "the Python version still runs from the crontab of $who:"
  printf '%s\n' "$lines" | while IFS= read -r l; do say "    $l"; done
  say "  remove those lines (its monitor would move the same rows as aivc-monitor):"
  say "    crontab ${u}-e    and delete them, or all at once:"
  say "    crontab ${u}-l | grep -Ev 'src/monitor/(Monitor|check_restart)\.py' | crontab ${u}-"
}
if command -v crontab >/dev/null 2>&1; then
  python_cron ""
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != "$(id -un 2>/dev/null)" ]; then
    python_cron "$SUDO_USER"
  fi
fi
for f in /etc/crontab /etc/cron.d/*; do
  [ -f "$f" ] || continue
  if grep -Ev '^[[:space:]]*#' "$f" | grep -Eq 'src/monitor/(Monitor|check_restart)\.py'; then
    python_left=1
    say "the Python version still runs from $f: delete its lines naming src/monitor/Monitor.py"
    say "  and src/monitor/check_restart.py (sudoedit $f)"
  fi
done
# Its booking container: a container without any aivc.* label that mounts this root's cfg/
# or jobs/ (run_booking.sh names it `booking` and publishes port 10000, which ours takes).
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  real_root=$(cd "$root" && pwd -P)
  ids=$(docker ps -aq --no-trunc 2>/dev/null || true)
  if [ -n "$ids" ]; then
    # One line per container: name, labels (JSON escapes whatever they hold), mount sources.
    # A container removed meanwhile makes inspect fail for it alone.
    # shellcheck disable=SC2086
    seen=$(docker inspect --type container --format \
      '{{.Name}}'$'\t''{{json .Config.Labels}}{{range .Mounts}}'$'\t''{{.Source}}{{end}}' $ids 2>/dev/null || true)
    while IFS=$'\t' read -r -a fields; do
      [ "${#fields[@]}" -ge 3 ] || continue
      case ${fields[1]} in *'"aivc.'*) continue ;; esac
      cname=${fields[0]#/}
      for src in "${fields[@]:2}"; do
        src=${src%/}
        case $src in
          "$root/cfg"|"$root/jobs"|"$real_root/cfg"|"$real_root/jobs")
            python_left=1
            say "the Python version's booking container $cname (no aivc labels) mounts $src:"
            say "  students would go on booking through it, without the new tools' lock. Remove it:"
            say "    docker rm -f $cname"
            break ;;
        esac
      done
    done <<< "$seen"
  fi
fi
if [ "$python_left" = 1 ]; then
  say "nothing was changed: run the commands above, then run scripts/setup.sh again"
  say "  (docs/migrating.md walks through the switch)"
  exit 1
fi

# 1. Live files from the templates, only where missing.
mkdir -p "$root/cfg/templates" "$root/jobs"
if [ "$root" != "$repo" ]; then
  for f in "$repo"/cfg/templates/*; do
    # The Python version's layout keeps the lab's own backup template in Backup/; ours
    # beside it would be found first and replace the lab's.
    if [ "$(basename "$f")" = backup.yaml ] && [ -f "$root/cfg/templates/Backup/backup.yaml" ]; then
      continue
    fi
    [ -e "$root/cfg/templates/$(basename "$f")" ] || cp "$f" "$root/cfg/templates/"
  done
fi
for f in host_deploy capability_config users_config; do
  if [ ! -e "$root/cfg/$f.yaml" ]; then
    cp "$root/cfg/templates/$f.yaml" "$root/cfg/$f.yaml"
    say "created cfg/$f.yaml from the template"
  fi
done
chmod 0600 "$root/cfg/users_config.yaml"   # it holds passwords
for t in booking using used; do
  if [ ! -e "$root/jobs/$t.csv" ]; then
    cp "$root/cfg/templates/schedule.csv" "$root/jobs/$t.csv"
    say "created jobs/$t.csv"
  fi
done
for f in monitor_exec monitor.log .lock; do [ -e "$root/jobs/$f" ] || : > "$root/jobs/$f"; done
# The installation id, as hostinfo makes it: linked into place only when absent, so two
# runs at once (or a monitor tick) agree on one id.
id_file=$root/cfg/installation-id
if [ ! -s "$id_file" ]; then
  tmp=$(mktemp "$root/cfg/.installation-id.XXXXXX")
  printf '%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" > "$tmp"
  ln "$tmp" "$id_file" 2>/dev/null && say "created cfg/installation-id" || true
  rm -f "$tmp"
fi
installation=$(tr -d '[:space:]' < "$id_file")
if ! printf '%s' "$installation" | grep -Eq '^[0-9a-f]{8,64}$'; then
  say "cfg/installation-id must hold 8 to 64 lowercase hex digits; it holds something else"
  exit 2
fi

# 2. The host's zone, written once: the schedule's times are wall-clock times in it.
if ! grep -q '^timezone:' "$root/cfg/host_deploy.yaml"; then
  zone=$(timedatectl show -p Timezone --value 2>/dev/null || true)
  [ -n "$zone" ] || zone=$(cat /etc/timezone 2>/dev/null || true)
  [ -n "$zone" ] || zone=$(readlink /etc/localtime 2>/dev/null | sed -n 's|.*zoneinfo/||p')
  [ -n "$zone" ] || zone=UTC
  printf '\n# Written by setup.sh: the zone of every time in jobs/.\ntimezone: %s\n' "$zone" >> "$root/cfg/host_deploy.yaml"
  say "timezone: $zone"
fi

# 3. Binaries and docs.
if [ -z "$bin_dir" ]; then
  say "building (cargo build --release)"
  (cd "$repo" && cargo build --release --quiet --workspace --bins)
  bin_dir=$repo/target/release
fi
mkdir -p "$prefix/bin" "$prefix/share/doc/aivc" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions"
for b in booking checker monitor run-container dashboard; do
  install -m 0755 "$bin_dir/$b" "$prefix/bin/$b"
  # Man pages and completions come from the tools' own argument definitions.
  "$prefix/bin/$b" --generate-man > "$prefix/share/man/man1/$b.1"
  "$prefix/bin/$b" --generate-completions bash > "$prefix/share/bash-completion/completions/$b"
done
cp "$repo"/docs/*.md "$prefix/share/doc/aivc/"
say "installed booking, checker, monitor, run-container, dashboard in $prefix/bin (man pages, bash completions)"
# The login script that shows a student their notices; run-container mounts it read-only
# at /etc/profile.d/aivc-notices.sh in each container it starts (docs/operations.md).
mkdir -p "$root/cfg/container"
install -m 0644 "$repo/scripts/container/aivc-notices.sh" "$root/cfg/container/aivc-notices.sh"

"$prefix/bin/checker" --root "$root" validate

# 3b. Cluster mode (--slurm, docs/cluster.md "Admin walkthrough"). The same steps on the
# controller and on every node: slurmctld reads the guard (the controller's copy matters),
# slurmd runs the wrappers (each node's copy matters), and slurm.conf is the same file on all.
if [ "$slurm" = 1 ]; then
  if [ ! -f "$root/cfg/cluster.yaml" ]; then
    say "--slurm needs $root/cfg/cluster.yaml (docs/cluster.md shows one); nothing of Slurm was changed"
    exit 2
  fi
  slurm_conf=${SLURM_CONF:-/etc/slurm/slurm.conf}
  if [ ! -f "$slurm_conf" ]; then
    say "--slurm: no slurm.conf at $slurm_conf (set SLURM_CONF to where it is)"
    exit 2
  fi
  slurm_dir=$(dirname "$slurm_conf")
  # The guard, with this lab's prefix and node licenses filled in from cluster.yaml.
  lua_new=$(mktemp)
  "$prefix/bin/run-container" --root "$root" slurm-job-submit > "$lua_new"
  if ! cmp -s "$lua_new" "$slurm_dir/job_submit.lua"; then
    install -m 0644 "$lua_new" "$slurm_dir/job_submit.lua"
    say "installed $slurm_dir/job_submit.lua (slurmctld reads it at start and at \`scontrol reconfigure\`)"
  fi
  rm -f "$lua_new"
  # slurmd gives a Prolog no environment of its own: the wrappers name the root and PATH.
  mkdir -p "$prefix/lib/aivc"
  for side in prolog epilog; do
    cat > "$prefix/lib/aivc/slurm-$side.new" <<WRAPPER
#!/bin/sh
# Slurm's $side for AIVC cluster mode (docs/cluster.md), written by scripts/setup.sh --slurm.
# slurmd runs it as root on the job's node for every job; run-container acts only on the jobs
# the monitor recorded for a booking, and always exits 0 (a failing $side drains the node).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec '$prefix/bin/run-container' --root '$root' slurm-$side
WRAPPER
    chmod 0755 "$prefix/lib/aivc/slurm-$side.new"
    mv -f "$prefix/lib/aivc/slurm-$side.new" "$prefix/lib/aivc/slurm-$side"
  done
  say "installed $prefix/lib/aivc/slurm-prolog and slurm-epilog"
  # Licenses= against cluster.yaml: one line per mismatch, and then stop (exit 2): a monitor
  # mirroring into wrong licenses would book GPUs Slurm does not hold for us.
  if ! SLURM_CONF=$slurm_conf "$prefix/bin/monitor" --root "$root" --check-cluster >&2; then
    say "slurm.conf does not match cfg/cluster.yaml (above): fix Licenses= on every machine,"
    say "  run \`scontrol reconfigure\`, then run setup again"
    exit 2
  fi
  # The lines slurm.conf must have; setup never edits it or restarts Slurm.
  conf_value() {   # the value of key $1 in slurm.conf (keys are case-insensitive), last wins
    sed -e 's/#.*//' "$slurm_conf" | awk -F= -v k="$1" 'tolower($1) ~ "^[ \t]*" tolower(k) "[ \t]*$" { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]+$/, "", v) } END { print v }'
  }
  missing=()
  case ",$(conf_value JobSubmitPlugins)," in
    *,lua,*|*,job_submit/lua,*) ;;
    *) missing+=("JobSubmitPlugins=lua                        # the guard (job_submit.lua beside slurm.conf)") ;;
  esac
  [ "$(conf_value Prolog)" = "$prefix/lib/aivc/slurm-prolog" ] ||
    missing+=("Prolog=$prefix/lib/aivc/slurm-prolog   # starts a booking's container on its node")
  [ "$(conf_value Epilog)" = "$prefix/lib/aivc/slurm-epilog" ] ||
    missing+=("Epilog=$prefix/lib/aivc/slurm-epilog   # backs it up and removes it at the job's end")
  [ -n "$(conf_value PrologEpilogTimeout)" ] ||
    missing+=("PrologEpilogTimeout=600                     # a close may copy backups for minutes; never wait for ever")
  case ",$(conf_value GresTypes)," in
    *,gpu,*) ;;
    *) missing+=("GresTypes=gpu                               # and gres.conf: NodeName=... Name=gpu File=/dev/nvidia[0-N]") ;;
  esac
  if [ ${#missing[@]} -gt 0 ]; then
    say "add to $slurm_conf on every machine, then run \`scontrol reconfigure\` (setup restarts nothing):"
    for l in "${missing[@]}"; do say "    $l"; done
  else
    say "$slurm_conf has the guard, the Prolog and the Epilog of cluster mode"
  fi
fi

# 4. The monitor's systemd units (and the notices' delivery, the usage sampling and the
# dashboard on 127.0.0.1:8642), with this root and binary folder written in.
units="aivc-monitor.service aivc-monitor.timer aivc-monitor.path aivc-monitor-failed.service aivc-notices.service aivc-notices.timer aivc-notices.path aivc-usage.service aivc-usage.timer aivc-dashboard.service"
enable="aivc-monitor.timer aivc-monitor.path aivc-notices.timer aivc-notices.path aivc-usage.timer aivc-dashboard.service"
if [ "$systemd" = 1 ] && [ -d /run/systemd/system ]; then
  for u in $units; do
    sed -e "s|/usr/local/bin|$prefix/bin|g" -e "s|/usr/local/share/doc|$prefix/share/doc|g" \
        -e "s|/srv/aivc|$root|g" "$repo/systemd/$u" > "/etc/systemd/system/$u"
  done
  # Cluster mode: the monitor's Slurm commands read the same slurm.conf as setup did.
  if [ "$slurm" = 1 ] && [ "$slurm_conf" != /etc/slurm/slurm.conf ]; then
    mkdir -p /etc/systemd/system/aivc-monitor.service.d
    printf '[Service]\nEnvironment=SLURM_CONF=%s\n' "$slurm_conf" \
      > /etc/systemd/system/aivc-monitor.service.d/slurm.conf
  fi
  systemctl daemon-reload
  # shellcheck disable=SC2086
  systemctl enable --now $enable
  say "systemd: $enable enabled"
else
  say "systemd is not running here (or --no-systemd): to install the units on the host, copy"
  say "  $repo/systemd/{$(echo $units | tr ' ' ,)} to /etc/systemd/system/, replacing"
  say "  /usr/local/bin with $prefix/bin and /srv/aivc with $root, then run"
  say "  systemctl daemon-reload && systemctl enable --now $enable"
fi

# 5. The booking container students SSH into.
if [ "$container" = 0 ]; then
  say "skipping the booking container (--no-container)"
  exit 0
fi
if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  say "no Docker engine answers: the booking container was not started"
  exit 1
fi
keys=$root/cfg/booking-ssh
mkdir -p "$keys" && chmod 0700 "$keys"
if [ ! -s "$keys/password" ]; then
  head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$keys/password"
  chmod 0600 "$keys/password"
  say "the shared ssh password of the booking account is in $keys/password (root only)"
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$repo"/scripts/booking-container/* "$ctx/"
cp "$bin_dir/booking" "$ctx/booking"
# Only our own booking container is ever replaced: the name alone could be anyone's.
found=$(docker inspect --type container --format \
  '{{.Id}} {{index .Config.Labels "aivc.role"}} {{index .Config.Labels "aivc.installation"}}' \
  "$name" 2>/dev/null || true)
old_id=
if [ -n "$found" ]; then
  read -r old_id role owner <<< "$found" || true
  if [ "${role:-} ${owner:-}" != "booking-container $installation" ]; then
    say "a container named $name exists and is not this installation's booking container"
    say "  (it lacks the labels aivc.role=booking-container and aivc.installation=$installation);"
    say "  it was left alone: remove it yourself if it is stale, or choose --booking-name"
    exit 1
  fi
fi
docker build --quiet --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
if [ -n "$old_id" ]; then
  docker rm -f "$old_id" >/dev/null
fi
docker run -d --restart=always --name "$name" --label aivc.role=booking-container \
  --label "aivc.installation=$installation" \
  -p "$port:22" -v "$root/cfg:/aivc/cfg" -v "$root/jobs:/aivc/jobs" "$image" >/dev/null
say "booking container $name listens on port $port (ssh booking@<host> -p $port)"
