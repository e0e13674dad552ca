#!/usr/bin/env bash
# `make run`: the front (nginx, config already rendered into FRONT_DIR/nginx.conf) and the app command
# behind it, both in the foreground. Ctrl+C, SIGTERM, or either one exiting stops the other.
#
#   deploy/serve.sh FRONT_DIR APP_COMMAND [ARG...]
#
# With WORKER_COMMAND set (a command line, split on spaces), the batch-job worker runs beside them and is
# stopped with them the same way.
set -uo pipefail

front_dir=$1
shift
nginx=${NGINX_BIN:-nginx}

# shellcheck source=deploy/supervise.sh
source "$(dirname "$0")/supervise.sh"
stop_leftovers "$front_dir" serve.sh

"$nginx" -p "$front_dir/" -e "$front_dir/error.log" -c "$front_dir/nginx.conf" &
nginx_pid=$!
pids+=("$nginx_pid")
"$@" &
app_pid=$!
pids+=("$app_pid")

worker_pid=""
if [ -n "${WORKER_COMMAND:-}" ]; then
  # shellcheck disable=SC2086  # a command line, split into its words on purpose
  $WORKER_COMMAND &
  worker_pid=$!
  pids+=("$worker_pid")
fi

wait -n "${pids[@]}"
status=$?
# 0 is a clean stop (Ctrl+C reaches both processes too); anything else is a failure to report.
if [ "$status" != 0 ]; then
  kill -0 "$nginx_pid" 2>/dev/null || echo "serve.sh: nginx exited ($status); see $front_dir/error.log" >&2
  kill -0 "$app_pid" 2>/dev/null || echo "serve.sh: the app exited ($status)" >&2
  [ -z "$worker_pid" ] || kill -0 "$worker_pid" 2>/dev/null || echo "serve.sh: the worker exited ($status)" >&2
fi
stop
exit "$status"
