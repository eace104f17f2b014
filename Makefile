# The two commands: `make demo` and `make test`. Everything else is a step they share.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
# The database URL: $DATABASE_URL if set, otherwise the local server provisioned on demand.
DB = $$(scripts/provision-db.sh)

.PHONY: help install demo test serve lint typecheck bench clean-venv

help:
	@echo "make demo   install, provision PostGIS, load the demo borough, serve http://127.0.0.1:8000"
	@echo "make test   install, provision PostGIS, run the whole test suite"

$(BIN)/.installed: pyproject.toml
	@bash scripts/bootstrap.sh
	@touch $@

install: $(BIN)/.installed

# Both print each step's time at the end (scripts/run.sh).
demo:
	@bash scripts/run.sh demo

test:
	@PYTEST_ARGS='$(PYTEST_ARGS)' bash scripts/run.sh test

serve: install
	@url=$(DB) && export DATABASE_URL=$$url && $(BIN)/wardwise serve

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: install
	@url=$(DB) && export DATABASE_URL=$$url && for b in bench/*.py; do $(BIN)/python $$b || exit 1; done
