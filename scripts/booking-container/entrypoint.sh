#!/bin/sh
# Host keys and the shared login password live in cfg/booking-ssh/ (root only), so a
# rebuilt container keeps its identity and the admin sets the password in one place.
set -eu
keys=/aivc/cfg/booking-ssh
mkdir -p "$keys"
chmod 0700 "$keys"
if ls "$keys"/ssh_host_*_key >/dev/null 2>&1; then
  cp "$keys"/ssh_host_* /etc/ssh/
  chmod 0600 /etc/ssh/ssh_host_*_key
else
  ssh-keygen -A
  cp /etc/ssh/ssh_host_* "$keys"/
fi
if [ -s "$keys/password" ]; then
  printf 'booking:%s\n' "$(head -n 1 "$keys/password")" | chpasswd
else
  echo "aivc-booking: no $keys/password; the booking account cannot log in" >&2
fi
exec /usr/sbin/sshd -D -e
