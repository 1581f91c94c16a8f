# AIVC booking: shows the notices not yet shown at an interactive login, newest last.
# Mounted read-only at /etc/profile.d/aivc-notices.sh in every booking container (from
# <root>/cfg/container/aivc-notices.sh, which scripts/setup.sh installs). Login shells
# source it, so it defines nothing that outlives it and never exits. The monitor writes
# each notice as its own file in /root/Work/.aivc/notices; what was shown is remembered,
# one file name a line, in ~/.aivc-notices-seen (delete it to see them all again).
case $- in
*i*)
  aivc_dir=${AIVC_NOTICES_DIR:-/root/Work/.aivc/notices}
  aivc_seen=${HOME:-/root}/.aivc-notices-seen
  if [ -d "$aivc_dir" ]; then
    [ -f "$aivc_seen" ] || : > "$aivc_seen" 2>/dev/null
    aivc_head=
    # The names start with the notice's time, so the glob's order is oldest first.
    for aivc_f in "$aivc_dir"/*.txt; do
      [ -f "$aivc_f" ] && [ ! -L "$aivc_f" ] || continue
      aivc_name=${aivc_f##*/}
      grep -qxF -- "$aivc_name" "$aivc_seen" 2>/dev/null && continue
      if [ -z "$aivc_head" ]; then
        printf '\nAIVC notices (newest last; all of them are in %s):\n' "$aivc_dir"
        aivc_head=1
      fi
      printf '  %s\n' "$(head -c 2200 "$aivc_f" | tr -d '\000-\010\013-\037' | head -n 1)"
      printf '%s\n' "$aivc_name" >> "$aivc_seen" 2>/dev/null
    done
    [ -z "$aivc_head" ] || printf '\n'
    # Keep the memory of what was shown short: the folder keeps 100 notices at most.
    if [ "$(wc -l < "$aivc_seen" 2>/dev/null || echo 0)" -gt 400 ]; then
      tail -n 200 "$aivc_seen" > "$aivc_seen.new" 2>/dev/null && mv -f "$aivc_seen.new" "$aivc_seen"
    fi
  fi
  unset aivc_dir aivc_seen aivc_head aivc_f aivc_name
  ;;
esac
