# The two commands: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --build-constraint build-constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
# More threads than IMGREC_QUEUE_MAX: the engine's bounded queue, not gunicorn's unbounded one, decides.
THREADS ?= 160
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run dev test lint install install-dev migrate static clean bench bench-quick

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
run: migrate static
	DJANGO_SECRET_KEY=$$(cat var/secret_key) IMGREC_PRELOAD=true \
	$(BIN)/gunicorn imgrec_site.wsgi:application --bind $(HOST):$(PORT) \
	  --workers 1 --worker-class gthread --threads $(THREADS) --timeout 120 --access-logfile -

dev: migrate
	DJANGO_DEBUG=true IMGREC_PRELOAD=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install-dev
	$(BIN)/ruff check .

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Benchmarks (not part of `make test`): about 7 minutes on 2 cores, `make bench-quick` about 3. Writes bench/results.md.
bench: install-dev
	$(BIN)/python -m bench.run_all

bench-quick: install-dev
	$(BIN)/python -m bench.run_all --quick

clean:
	rm -rf $(VENV) staticfiles
