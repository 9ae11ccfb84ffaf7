# Every target bootstraps what it needs: uv (via pip when missing) and the project's venv.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: help bootstrap dev test test-fast e2e lint format bench up down chat clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet uv

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

bootstrap: .venv/.synced ## install uv (if missing) and the locked dependencies

dev: bootstrap ## run the whole stack as local processes (Ctrl-C stops everything)
	$(RUN) python -m scripts.dev

test: bootstrap ## unit, integration and e2e tests against real servers started on free ports
	$(RUN) pytest $(PYTEST_ARGS)

test-fast: bootstrap ## unit tests only
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

lint: bootstrap ## ruff format --check, ruff check, mypy
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy

format: bootstrap ## apply ruff format and fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

clean: ## remove local state (.data)
	rm -rf .data
