# The two commands: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --build-constraint build-constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
# More threads than IMGREC_QUEUE_MAX: the engine's bounded queue, not gunicorn's unbounded one, decides.
# Behind the front a thread is spent only on a whole, buffered request, so this bounds work, not clients.
THREADS ?= 160
# The front (nginx, deploy/) listens on $(HOST):$(PORT); the app behind it on a unix socket in $(FRONT).
FRONT := $(CURDIR)/var/front
APP_SOCKET := $(FRONT)/app.sock
# Debian installs nginx in /usr/sbin, which is not on a normal user's PATH.
NGINX_BIN ?= $(or $(shell command -v nginx),/usr/sbin/nginx)
# Not NGINX: nginx reads that variable as a list of inherited listening sockets.
export NGINX_BIN
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Two malloc arenas, not glibc's 8 per core: the 160 request threads otherwise each keep freed decode
# buffers in arenas of their own (docs/architecture.md, "Memory"). `make bench` inherits it too.
export MALLOC_ARENA_MAX ?= 2

.PHONY: run worker dev test lint install install-dev migrate static clean browser-deps front-deps services bench bench-quick cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt build-constraints.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

var/secret_key:
	mkdir -p var
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

migrate: install var/secret_key
	DJANGO_SECRET_KEY=$$(cat var/secret_key) $(BIN)/python manage.py migrate --no-input

static: install var/secret_key
	DJANGO_SECRET_KEY=$$(cat var/secret_key) $(BIN)/python manage.py collectstatic --no-input --verbosity 0

# One process, many threads: each model is loaded once and shared (see docs/architecture.md).
# nginx in front buffers whole requests, so idle and slow clients never hold a gunicorn thread
# (docs/operations.md, "The front"); its config, pid, logs and temporary files are in $(FRONT).
# gunicorn's --keep-alive outlasts the front's upstream keepalive_timeout (60 s): nginx closes first.
run: migrate static front-deps
	mkdir -p $(FRONT)
	$(BIN)/python deploy/render_nginx.py --dir $(FRONT) --listen $(HOST):$(PORT) --upstream unix:$(APP_SOCKET) \
	  > $(FRONT)/nginx.conf
	DJANGO_SECRET_KEY=$$(cat var/secret_key) IMGREC_PRELOAD=true IMGREC_CLIENT_IP_HEADER=HTTP_X_FORWARDED_FOR \
	WORKER_COMMAND="$(WORKER) --pidfile $(FRONT)/worker.pid" deploy/serve.sh $(FRONT) $(BIN)/gunicorn imgrec_site.wsgi:application --bind unix:$(APP_SOCKET) \
	  --pid $(FRONT)/app.pid --control-socket $(FRONT)/app.ctl --workers 1 --worker-class gthread \
	  --threads $(THREADS) --timeout 120 --keep-alive 75 --access-logfile -

# --- Batch jobs (recognizer/jobs/): a Celery worker, one process, the models loaded once in it ---------
# On IMGREC_BROKER_URL; by default the embedded broker (kombu's filesystem transport in var/broker/),
# which `make run` also uses and needs no server. Its pool (two chunks at once on threads of the one process)
# is in settings.py, CELERY_WORKER_POOL. docs/operations.md, "Batch jobs".
WORKER := $(BIN)/celery -A recognizer.jobs.celery worker --without-gossip --without-mingle \
  --without-heartbeat --loglevel=INFO

worker: migrate
	DJANGO_SECRET_KEY=$$(cat var/secret_key) $(WORKER)

dev: migrate
	DJANGO_DEBUG=true IMGREC_PRELOAD=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install-dev
	$(BIN)/ruff check .

test: install-dev browser-deps front-deps services
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
	if [ "$$CI" = "true" ]; then $(MAKE) fuzz FUZZ_SECONDS=60; fi

# atheris over imaging.decode_image, seeded with a small file of each accepted format (fuzz/).
# Only RecognizerError may escape; a crashing input is saved in var/fuzz-artifacts/.
.PHONY: fuzz
FUZZ_SECONDS ?= 60
fuzz: install-dev
	mkdir -p var/fuzz-artifacts
	$(BIN)/python -m fuzz.fuzz_decode -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=3072 \
	  -artifact_prefix=var/fuzz-artifacts/ -print_final_stats=1

# Benchmarks (not part of `make test`): about 40 minutes on 2 cores, `make bench-quick` about 15. Writes bench/results.md.
# Slow clients run against `make run` itself (nginx), the cluster figures on the local PostgreSQL and Redis.
bench: install-dev front-deps services
	$(BIN)/python -m bench.run_all

bench-quick: install-dev front-deps services
	$(BIN)/python -m bench.run_all --quick

clean:
	rm -rf $(VENV) staticfiles

# --- Browser tests (tests/browser/): Debian's chromium and axe-core --------------------------
# Playwright drives /usr/bin/chromium; its own browser download does not work offline, so never
# `playwright install`. axe-core (npm, pinned in package-lock.json) goes into node_modules/.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
AXE_CORE := node_modules/axe-core/axe.min.js

browser-deps: $(AXE_CORE)
	@command -v chromium >/dev/null || { \
	  if ! command -v apt-get >/dev/null; then \
	    echo "The browser tests need Debian's chromium (/usr/bin/chromium) and apt-get is not available here: install chromium, then run make test again." >&2; exit 1; \
	  elif [ "$$(id -u)" != 0 ]; then \
	    echo "The browser tests need Debian's chromium: run 'sudo apt-get install -y chromium' (or make test as root)." >&2; exit 1; \
	  else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

$(AXE_CORE): package.json package-lock.json
	@command -v npm >/dev/null || { echo "The accessibility tests need npm for axe-core: apt-get install -y npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --silent
	touch $@

# --- The front (deploy/): Debian's nginx, for `make run` and tests/ops/ ---------------------------
front-deps:
	@[ -x "$(NGINX_BIN)" ] || { \
	  if ! command -v apt-get >/dev/null; then \
	    echo "make run puts Debian's nginx in front of gunicorn and apt-get is not available here: install nginx, then run make again." >&2; exit 1; \
	  elif [ "$$(id -u)" != 0 ]; then \
	    echo "make run puts Debian's nginx in front of gunicorn: run 'sudo apt-get install -y nginx' (or make as root)." >&2; exit 1; \
	  else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; fi; }

# --- PostgreSQL and Redis (tests, make cluster) -----------------------------------------------
# The machine's own services on 127.0.0.1, installed from Debian's packages and started when absent;
# the tests use the role imgrec (made here if missing) and a database of their own (test_imgrec).
services:
	deploy/services.sh


# --- Several app nodes on this machine (docs/operations.md, "Scaling out") ---------------------
# The front on $(HOST):$(PORT) balancing NODES gunicorns (node1, node2, ...; own sockets and pids in
# var/cluster) that share the PostgreSQL and Redis named here. With the defaults, `make services`
# provides both; name others in the environment and they are used as they are.
NODES ?= 2
CLUSTER_DATABASE_URL := postgres://imgrec:imgrec@127.0.0.1:5432/imgrec
CLUSTER_CACHE_URL := redis://127.0.0.1:6379/0
CLUSTER_BROKER_URL := redis://127.0.0.1:6379/1
cluster: static front-deps
	@if [ -z "$$DATABASE_URL" ] || [ -z "$$DJANGO_CACHE_URL" ]; then deploy/services.sh; fi
	DATABASE_URL=$${DATABASE_URL:-$(CLUSTER_DATABASE_URL)} DJANGO_CACHE_URL=$${DJANGO_CACHE_URL:-$(CLUSTER_CACHE_URL)} \
	IMGREC_BROKER_URL=$${IMGREC_BROKER_URL:-$(CLUSTER_BROKER_URL)} WORKER_COMMAND="$(WORKER) --pidfile $(CURDIR)/var/cluster/worker.pid" \
	DJANGO_SECRET_KEY=$$(cat var/secret_key) IMGREC_PRELOAD=true IMGREC_CLIENT_IP_HEADER=HTTP_X_FORWARDED_FOR \
	LISTEN=$(HOST):$(PORT) NODES=$(NODES) deploy/cluster.sh $(CURDIR)/var/cluster $(BIN)/python \
	  $(BIN)/gunicorn imgrec_site.wsgi:application --workers 1 --worker-class gthread \
	  --threads $(THREADS) --timeout 120 --keep-alive 75 --access-logfile -
