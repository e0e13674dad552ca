#!/usr/bin/env bash
# `make cluster`: on this machine, the front (nginx) balancing NODES app nodes, each a gunicorn of its
# own (own unix socket, pid file, control socket and IMGREC_NODE_NAME node1, node2, ...), against the
# PostgreSQL and Redis named by DATABASE_URL and DJANGO_CACHE_URL. Migrates once, before any node
# starts. Ctrl+C, SIGTERM, or the front exiting stops them all; a node that dies leaves the others
# serving (the front sends its share to them), as it would on its own machine.
#
#   LISTEN=127.0.0.1:8000 NODES=2 deploy/cluster.sh CLUSTER_DIR PYTHON GUNICORN_ARG...
#
# PYTHON runs manage.py and deploy/render_nginx.py; GUNICORN_ARG... are the node's gunicorn arguments
# (the app and its options) without --bind, --pid and --control-socket, which are set here per node.
set -uo pipefail

cluster_dir=$(mkdir -p "$1" && cd "$1" && pwd)
python=$2
shift 2
listen=${LISTEN:-127.0.0.1:8000}
nodes=${NODES:-2}
nginx=${NGINX_BIN:-nginx}
checkout=$(cd "$(dirname "$0")/.." && pwd)

case "${DATABASE_URL:-}" in postgres://* | postgresql://*) ;; *)
  echo "cluster.sh: DATABASE_URL must name a PostgreSQL database every node shares (postgres://...); got '${DATABASE_URL:-}'" >&2
  exit 2 ;;
esac
case "${DJANGO_CACHE_URL:-}" in redis://* | rediss://*) ;; *)
  echo "cluster.sh: DJANGO_CACHE_URL must name a Redis every node shares (redis://host:6379/0); got '${DJANGO_CACHE_URL:-}'" >&2
  exit 2 ;;
esac
case "$nodes" in '' | *[!0-9]* | 0) echo "cluster.sh: NODES must be a whole number >= 1; got '$nodes'" >&2; exit 2 ;; esac

# shellcheck source=deploy/supervise.sh
source "$(dirname "$0")/supervise.sh"
stop_leftovers "$cluster_dir" cluster.sh

# The database named in DATABASE_URL is created when missing (deploy/ensure_database.py), then
# migrated once: nodes never race each other to migrate.
"$python" "$checkout/deploy/ensure_database.py" || exit 1
(cd "$checkout" && "$python" manage.py migrate --no-input) || exit 1

upstreams=()
for i in $(seq "$nodes"); do upstreams+=(--upstream "unix:$cluster_dir/node$i.sock"); done
"$python" "$checkout/deploy/render_nginx.py" --dir "$cluster_dir" --listen "$listen" "${upstreams[@]}" \
  > "$cluster_dir/nginx.conf" || exit 1

"$nginx" -p "$cluster_dir/" -e "$cluster_dir/error.log" -c "$cluster_dir/nginx.conf" &
nginx_pid=$!
pids+=("$nginx_pid")
for i in $(seq "$nodes"); do
  IMGREC_NODE_NAME=node$i "$@" --bind "unix:$cluster_dir/node$i.sock" \
    --pid "$cluster_dir/node$i.pid" --control-socket "$cluster_dir/node$i.ctl" &
  pids+=($!)
done

# The batch-jobs worker (WORKER_COMMAND, from `make cluster`) runs beside the nodes against the same
# database and broker; like a node, its exit is not the cluster's.
if [ -n "${WORKER_COMMAND:-}" ]; then
  $WORKER_COMMAND >>"$cluster_dir/worker.log" 2>&1 &
  pids+=($!)
fi

echo "cluster.sh: the front on http://$listen, $nodes app nodes (logs: $cluster_dir/*.log and below)" >&2

# Only the front's exit ends the cluster; a node's exit is a node down, which the front routes around.
wait "$nginx_pid"
status=$?
echo "cluster.sh: nginx exited ($status); see $cluster_dir/error.log" >&2
stop
exit "$status"
