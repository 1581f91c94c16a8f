#!/usr/bin/env bash
# A clone with nothing beside it still passes the format tests, and says loudly that it uses
# the project's own samples: clones this repository (at HEAD, with the working tree's
# uncommitted changes laid over it, so it checks what is about to be committed) into a
# temp dir with no ../shared, and runs the format tests there. scripts/test.sh runs it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aivc-clone.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
clone=$tmp/clone
git clone --quiet --no-hardlinks "$repo" "$clone"
# The working tree's changes: modified and untracked (not ignored) files, and deletions.
(cd "$repo" && git ls-files -z -m -o --exclude-standard) |
  (cd "$repo" && xargs -0 -r cp --parents -t "$clone" 2>/dev/null || true)
(cd "$repo" && git ls-files -z -d) | (cd "$clone" && xargs -0 -r rm -f)
[ ! -e "$tmp/shared" ] || { echo "clean-clone: $tmp/shared exists" >&2; exit 1; }

# The workspace's target folder, so only the clone's own crates compile again.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
out=$tmp/out
if ! (cd "$clone" && cargo test --quiet -p hostinfo --test reference_formats) >"$out" 2>&1; then
  cat "$out" >&2
  echo "clean-clone: FAILED: the format tests fail in a clone without ../shared" >&2
  exit 1
fi
grep -q 'NOTE: ../shared/reference is not beside this clone' "$out" || {
  cat "$out" >&2
  echo "clean-clone: FAILED: the tests passed without saying they used the project's own samples" >&2
  exit 1
}
echo "clean-clone: the format tests pass in a clone without ../shared, and say so:" >&2
grep 'NOTE:' "$out" >&2
