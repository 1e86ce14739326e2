# CareHub developer commands. `make` alone lists them.
SHELL := /bin/bash
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint bootstrap bench clean

help:
	@echo "CareHub make targets:"
	@echo "  make run        install what is missing, migrate, seed demo data, serve on http://127.0.0.1:8000/"
	@echo "                  (HOST=... PORT=... to change; demo logins in var/demo-credentials.json)"
	@echo "  make test       everything CI runs: lint, types, migrations, contracts, deploy check,"
	@echo "                  tests on SQLite and PostgreSQL, browser tests"
	@echo "  make lint       ruff (check + format --check), mypy and lint-imports only"
	@echo "  make bootstrap  create .venv and install Python (uv.lock) and npm packages"
	@echo "  make bench      run the benchmarks: bench/run.py (options via ARGS=\"...\")"
	@echo "  make clean      remove .venv, node_modules and var/static"

run:
	scripts/run.sh

test:
	scripts/test.sh

bootstrap:
	scripts/bootstrap.sh

lint: bootstrap
	@rc=0; \
	echo "=== ruff check ==="; .venv/bin/ruff check . || rc=1; \
	echo "=== ruff format --check ==="; .venv/bin/ruff format --check . || rc=1; \
	echo "=== mypy ==="; .venv/bin/mypy carehub config || rc=1; \
	echo "=== lint-imports ==="; .venv/bin/lint-imports || rc=1; \
	exit $$rc

bench: bootstrap
	.venv/bin/python bench/run.py $(ARGS)

clean:
	rm -rf .venv node_modules var/static
