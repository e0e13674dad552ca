#!/usr/bin/env bash
# PostgreSQL and Redis on 127.0.0.1 for `make test` and `make cluster`: the machine's own services.
# On a machine without them, Debian's packages are installed (as root) and started; then a
# PostgreSQL role `imgrec` (password `imgrec`, allowed to create databases) is made if missing, so
# the tests connect over TCP whatever the server's authentication rules. Idempotent: on a machine
# where both already run, it only checks.
set -euo pipefail

PG_PORT=5432
REDIS_PORT=6379

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "services: $1 (run make as root, or do it by hand)" >&2
    exit 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null || { echo "services: install $* (no apt-get here)" >&2; exit 1; }
  need_root "installing $* needs root: sudo apt-get install -y $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

command -v redis-server >/dev/null || apt_install redis-server
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  need_root "Redis is not running on 127.0.0.1:$REDIS_PORT"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/imgrec.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

command -v pg_ctlcluster >/dev/null || apt_install postgresql
if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
  need_root "PostgreSQL is not running on 127.0.0.1:$PG_PORT"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.1; done
fi

if ! PGPASSWORD=imgrec psql -h 127.0.0.1 -p "$PG_PORT" -U imgrec -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  need_root "the PostgreSQL role imgrec is missing"
  runuser -u postgres -- psql -p "$PG_PORT" -qtAc "
    DO \$\$ BEGIN
      IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'imgrec')
      THEN ALTER ROLE imgrec LOGIN PASSWORD 'imgrec' CREATEDB;
      ELSE CREATE ROLE imgrec LOGIN PASSWORD 'imgrec' CREATEDB;
      END IF;
    END \$\$;"
fi
echo "services: PostgreSQL on 127.0.0.1:$PG_PORT (role imgrec), Redis on 127.0.0.1:$REDIS_PORT"
