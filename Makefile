# Two commands set everything up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The runtime set (requirements.txt) for run, serve, worker, beat and bench; the test and lint tools on top
# (requirements-dev.txt) for test, lint and format. Each stamp is redone when its file changes, and the dev
# stamp also when the runtime one is (requirements-dev.txt includes requirements.txt).
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
BENCH_ARGS ?=
export FLASK_APP := wsgi

.PHONY: run serve test lint format translations worker beat bench bytecode clean venv venv-dev

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
		echo "Could not create a virtual environment. On Debian or Ubuntu: sudo apt install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

venv-dev: $(DEV_STAMP)

## make bytecode: byte-compile the app as pip does for site-packages (up-to-date files are skipped), so that a
## process loads crm/ from __pycache__ instead of compiling some 200 modules on each start: where
## PYTHONDONTWRITEBYTECODE is set, Python never writes them itself (0.25 s of each `flask crm` command's start).
## A .pyc older than its source is ignored, and __pycache__/ is in .gitignore.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q crm workers config.py wsgi.py

## make run: install, migrate, seed reference and (first time only) demo data, print the admin login, serve.
run: $(STAMP) bytecode
	$(BIN)/flask db upgrade
	$(BIN)/flask crm seed-reference
	$(BIN)/flask crm seed-demo --if-empty
	@echo "----------------------------------------------------------------------"
	@echo "AEO Cultivation CRM at http://$(HOST):$(PORT)"
	@grep -E '^admin ' instance/demo-logins.txt | awk '{print "Administrator login: " $$1 " / " $$2}' || true
	@echo "Other demo logins: instance/demo-logins.txt"
	@echo "----------------------------------------------------------------------"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

## make serve: serve without seeding (after `make run` once).
serve: $(STAMP) bytecode
	$(BIN)/flask run --host $(HOST) --port $(PORT)

## make test: the test suite (SQLite and eager jobs unless DATABASE_URL / REDIS_URL point at real services).
test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: the app against the machine's own floor, on PostgreSQL and Redis from DATABASE_URL and REDIS_URL
## (in a database of its own, <name>_bench); BENCH_ARGS="--size 5000" is CI's smoke size. See bench/README.md.
bench: $(STAMP) bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make translations: extract new strings into each package's zh catalog (then fill in the msgstr lines).
translations: $(STAMP)
	$(BIN)/flask crm update-translations

worker: $(STAMP) bytecode
	$(BIN)/python -m workers worker --loglevel=INFO

beat: $(STAMP) bytecode
	$(BIN)/celery -A workers.celery_app beat --loglevel=INFO --schedule=instance/celerybeat-schedule

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find crm workers -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf __pycache__
