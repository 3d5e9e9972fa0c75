# buttress: `make run` starts the whole product on SQLite with demo data;
# `make test` runs lint, types, migrations check and the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

help:
	@echo "make run    set up and start buttress with demo data on http://127.0.0.1:8000"
	@echo "make test   set up and run formatting, lint, types, migration and test checks"
	@echo "make bench  run a benchmark in bench/ (BENCH=name, ARGS=...; scripts/bench.sh list)"

$(STAMP): pyproject.toml requirements.lock
	@scripts/bootstrap.sh

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/buttress run --demo $(if $(BIND),--bind $(BIND),)

test: $(STAMP)
	@scripts/test.sh

bench: $(STAMP)
	@scripts/bench.sh $(BENCH) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy buttress bench

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

vendor:
	@scripts/vendor-static.sh

clean:
	rm -rf $(VENV) var build *.egg-info

.PHONY: help setup run test bench lint format vendor clean
