# Sourced by serve.sh and cluster.sh: the processes they start (append to `pids`) are stopped together
# on Ctrl+C or SIGTERM. Set before anything starts, so a signal in between cannot leave one behind.
pids=()
stop() {
  trap - INT TERM
  [ ${#pids[@]} = 0 ] && return
  kill -TERM "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
