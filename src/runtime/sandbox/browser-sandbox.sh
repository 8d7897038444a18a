#!/bin/bash
# What Playwright launches as "Chromium" for a sandboxed browser. browser-sandbox.ts prepares
# $OPENPAW_BROWSER_DIR (readable by the gateway's user only) and this environment. The script keeps
# Playwright's pipe to Chromium (descriptors 3 and 4), closes everything else it inherited, hands
# bwrap its arguments and in-memory files as descriptors (5: bwrap.args, N: fd-N), drops to the
# sandbox's user and becomes bwrap, which runs browser-launcher with Chromium's arguments.
set -eu
dir=$OPENPAW_BROWSER_DIR
user=${OPENPAW_BROWSER_USER:-}
bwrap=$OPENPAW_BWRAP
setpriv=$OPENPAW_SETPRIV
# bwrap's environment is what /proc/1/environ shows inside.
unset OPENPAW_BROWSER_DIR OPENPAW_BROWSER_USER OPENPAW_BWRAP OPENPAW_SETPRIV

# Playwright's profile directory is on the host; the browser gets a fresh one in its own /tmp.
args=()
for arg in "$@"; do
  case $arg in
    --user-data-dir=*) args+=("--user-data-dir=/tmp/profile") ;;
    *) args+=("$arg") ;;
  esac
done

# As close-fds.sh does, from 5 up.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -ge 5 ] 2>/dev/null; then eval "exec $fd>&-"; fi
done
exec 5<"$dir/bwrap.args"
for file in "$dir"/fd-*; do
  eval "exec ${file##*/fd-}<\"\$file\""
done
mapfile -d '' command <"$dir/command"

if [ -n "$user" ]; then
  exec "$setpriv" --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups "$bwrap" --args 5 -- "${command[@]}" "${args[@]}"
fi
exec "$bwrap" --args 5 -- "${command[@]}" "${args[@]}"
