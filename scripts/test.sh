#!/usr/bin/env bash
# The project's test command (README): installs what the tests need when it is missing
# (apt-get, as root or through sudo), then checks the format, lints, and runs every test.
#   scripts/test.sh              # extra arguments go to `cargo test --workspace`
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "test.sh: $*" >&2; }

need=()
command -v flock >/dev/null || need+=(util-linux)          # lock contention tests
command -v file >/dev/null || need+=(file)
# The stand-in test image is built from a static busybox.
{ [ -x /bin/busybox ] && command -v file >/dev/null && file -L /bin/busybox | grep -q 'statically linked'; } || need+=(busybox-static)
command -v systemd-analyze >/dev/null || need+=(systemd)    # verify the units
command -v debootstrap >/dev/null || need+=(debootstrap)    # the booking container's base
command -v sshpass >/dev/null || need+=(sshpass)            # log in to the booking container
command -v ssh >/dev/null || need+=(openssh-client)
command -v strace >/dev/null || need+=(strace)              # count booking -ls write calls
command -v cc >/dev/null || need+=(gcc)                    # builds the stand-in NVML library
# The notices' delivery is tested against Debian's SMTP server (and busybox httpd, above).
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
# The dashboard's tests (tests/support/browser.rs, prometheus.rs, load.rs):
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)  # loads each page, screenshots
command -v chromedriver >/dev/null || need+=(chromium-driver)  # WebDriver: web_browser.rs books in a real browser
command -v prometheus >/dev/null || need+=(prometheus)      # scrapes /metrics
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)  # textfile collector
command -v wrk >/dev/null || need+=(wrk)                    # p99 latency under load
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)  # readable screenshots
# Cluster mode's tests run a throwaway Slurm 22.05 on loopback (tests/support/slurm.rs,
# scripts/slurm-lab): Debian's daemons, client and munge; the lua job_submit plugin comes with them.
[ -x /usr/sbin/slurmctld ] || need+=(slurmctld)
[ -x /usr/sbin/slurmd ] || need+=(slurmd)
command -v sbatch >/dev/null || need+=(slurm-client)
[ -x /usr/sbin/munged ] || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  say "installing what the tests need: ${need[*]}"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

# The real-engine tests need a Docker engine that answers; say so plainly if it does not.
docker version --format '{{.Server.Version}}' >/dev/null || {
  say "no Docker engine answers; the run-container and monitor tests need one"
  exit 1
}
[ -d ../shared/reference/original-formats ] ||
  say "NOTE: no ../shared beside this clone: the format tests use the project's own samples (tests/fixtures/python-reference)"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
# The same format tests in a clone with no ../shared beside it (a few seconds).
scripts/test-clean-clone.sh
