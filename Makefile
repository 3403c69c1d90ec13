# The one entry point for people and CI. `make run` and `make test` are the two
# commands a new user needs; everything else is a step of those.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT   ?= 8000

.PHONY: help run test lint format bench messages migrations clean

help:
	@echo "make run     set up and start web, Celery worker and beat (SQLite, no servers needed)"
	@echo "make test    ruff, migration check and the pytest suite (uses DATABASE_URL/REDIS_URL if set)"
	@echo "make bench   benchmarks in tests/bench (not part of make test)"
	@echo "make messages  refresh and compile translations (needs gettext)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

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

bench: $(VENV)/.installed-dev
	$(BIN)/pytest tests/bench -m bench -p no:randomly -s

messages: $(VENV)/.installed-dev
	$(MANAGE) makemessages --locale zh_Hans --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --no-obsolete
	$(MANAGE) compilemessages --locale zh_Hans --ignore '.venv/*'

clean:
	rm -rf $(VENV) var/db.sqlite3 var/celery var/staticfiles
