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

# stop_leftovers DIR NAME: processes left behind by an earlier run killed without a chance to clean up
# (kill -9, a closed terminal), still holding ports and sockets. Stops those whose pid file is in DIR and
# whose command line names DIR (so a recycled pid of another program is left alone); removes the files.
stop_leftovers() {
  local dir=$1 name=$2 pid_file pid
  for pid_file in "$dir"/*.pid; do
    [ -f "$pid_file" ] || continue
    pid=$(cat "$pid_file")
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"; then
      echo "$name: stopping $pid left running by an earlier run ($pid_file)" >&2
      kill -TERM "$pid"
      for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pid_file"
  done
}
