# close-fds.sh LOW COMMAND [ARGS...]
#
# Closes every file descriptor from LOW up, then replaces itself with COMMAND (exec), so that no
# descriptor this process inherited reaches the command. Node cannot do this itself: child_process
# has no close_fds, and descriptors a parent left open without O_CLOEXEC (a supervisor's pipe, a
# test runner's channel) pass through every spawn. Used in front of every bwrap the gateway starts
# (src/runtime/sandbox/bwrap.ts passes this text to `bash -c`) and by the Dockerfile's start command.
# Bash, not sh: dash cannot name descriptors above 9.
low=$1
shift
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -ge "$low" ] 2>/dev/null; then eval "exec $fd>&-"; fi
done
exec "$@"
