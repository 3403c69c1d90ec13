# The one entry point for people and CI. `make run` and `make test` are the two
# commands a new user needs; everything else is a step of those.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT   ?= 8000

.PHONY: help run test test-embedded lint format bench messages migrations lock lock-upgrade clean

help:
	@echo "make run     set up and start web, Celery worker and beat (SQLite, no servers needed)"
	@echo "make test    ruff, migration check and the pytest suite (uses DATABASE_URL/REDIS_URL if set)"
	@echo "make test-embedded  the pytest suite on SQLite and the filesystem broker, whatever is set"
	@echo "make lock    regenerate requirements*.lock from pyproject.toml (make lock-upgrade: newest releases)"
	@echo "make bench   benchmarks in tests/bench (not part of make test)"
	@echo "make messages  refresh and compile translations (needs gettext)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions and hashes, generated
# from pyproject.toml by `make lock`), then the project itself without
# dependencies. Stamps re-run the install when a lock or pyproject.toml changes.
$(VENV)/.installed-run: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed-run

# pip-compile keeps the pins already in a lock file unless asked to upgrade;
# the dev lock is constrained by the runtime lock, so both agree.
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
lock lock-upgrade: export CUSTOM_COMPILE_COMMAND = make lock
lock-upgrade: LOCK_FLAGS += --upgrade
lock lock-upgrade: | $(BIN)/python
	$(BIN)/pip install --quiet 'pip-tools>=7.5,<8'
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev --constraint requirements.lock \
	  --output-file requirements-dev.lock pyproject.toml

run: export DEBUG ?= 1
run: $(VENV)/.installed-run
	@mkdir -p var
	$(MANAGE) migrate --noinput
	$(MANAGE) demo_data
	@echo ""
	@echo "  DCC is starting at http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo ""
	DCC_PORT=$(PORT) $(BIN)/honcho start -f Procfile.dev

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations: $(VENV)/.installed-dev
	$(MANAGE) makemigrations --check --dry-run

test: lint migrations
	$(BIN)/pytest

# The configuration `make run` ships (SQLite in var/, kombu's filesystem
# broker), even where DATABASE_URL / REDIS_URL point at servers. CI runs it
# beside `make test` on PostgreSQL and Redis (.ci/run).
test-embedded: $(VENV)/.installed-dev
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND \
	  $(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/pytest tests/bench -m bench -p no:randomly -s

messages: $(VENV)/.installed-dev
	$(MANAGE) makemessages --locale zh_Hans --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --no-obsolete
	$(MANAGE) compilemessages --locale zh_Hans --ignore '.venv/*'

clean:
	rm -rf $(VENV) var/db.sqlite3 var/celery var/staticfiles
