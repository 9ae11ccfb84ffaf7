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

lint: bootstrap ## ruff format --check, ruff check, mypy, compose-check, k8s-check, observability-check
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy
	$(MAKE) --no-print-directory compose-check
	$(MAKE) --no-print-directory k8s-check
	$(MAKE) --no-print-directory observability-check

.PHONY: observability-check
observability-check: bootstrap ## promtool on deploy/observability's Prometheus config and rules; the dashboard's JSON
	@command -v promtool >/dev/null 2>&1 || { echo "observability-check: promtool not found (Debian: apt-get install prometheus)"; exit 1; }
	promtool check config deploy/observability/prometheus.yml
	promtool check rules deploy/observability/rules.yml
	$(RUN) python -m json.tool deploy/observability/grafana/dashboards/durable-agents.json >/dev/null

.PHONY: compose-check
compose-check: bootstrap ## validate compose.yaml, docker/Dockerfile and docker/ scripts (no engine needed)
	$(RUN) docker-compose -f compose.yaml config -q
	$(RUN) docker-compose -f compose.yaml --profile offline config -q
	MISTRAL_API_KEY=compose-check MISTRAL_SERVER_URL=https://api.mistral.ai \
		$(RUN) docker-compose -f compose.yaml config -q
	$(RUN) hadolint --failure-threshold error docker/Dockerfile
	@if command -v shellcheck >/dev/null 2>&1; then \
		shellcheck -s sh docker/temporal/*.sh && shellcheck docker/postgres/*.sh; \
	else echo "compose-check: shellcheck not installed, docker/ scripts not checked"; fi

# The oldest Kubernetes the manifests claim (deploy/k8s/README.md) and the newest whose schemas
# kubernetes-validate ships.
K8S_VERSIONS ?= 1.30.0 1.37.0

.PHONY: k8s-check
k8s-check: bootstrap ## render every deploy/k8s overlay and validate it strictly (no cluster needed)
	@set -eo pipefail; for overlay in deploy/k8s/overlays/*/; do \
		manifests=$$($(RUN) kubectl kustomize "$$overlay"); \
		for version in $(K8S_VERSIONS); do \
			report=$$($(RUN) kubernetes-validate --strict --quiet -k "$$version" - <<<"$$manifests" 2>&1) \
				|| { echo "$$report"; echo "k8s-check: $$overlay is not valid Kubernetes $$version"; exit 1; }; \
			if grep -q '^WARN' <<<"$$report"; then \
				echo "$$report"; echo "k8s-check: $$overlay has a kind with no schema (a CRD?)"; exit 1; \
			fi; \
		done; \
		echo "k8s-check: $$overlay renders and validates against Kubernetes $(K8S_VERSIONS)"; \
	done

format: bootstrap ## apply ruff format and fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: chaos
chaos: bootstrap ## the fault matrix (tests/chaos) on a local stack; writes docs/reliability.md
	$(RUN) python -m tests.chaos.matrix $(PYTEST_ARGS)

e2e: bootstrap ## the e2e suite against docker compose when Docker runs, else a local stack
	$(RUN) python -m scripts.e2e $(PYTEST_ARGS)

bench: bootstrap ## benchmarks against a local stack: a table, the JSON, and figures in docs/bench
	$(RUN) python -m scripts.bench

up: ## docker compose up (the offline profile unless MISTRAL_API_KEY is set)
	docker compose $(if $(MISTRAL_API_KEY),,--profile offline) up -d --build --wait

down: ## docker compose down
	docker compose --profile offline down

chat: bootstrap ## a terminal chat with the NutriSense agents through the gateway
	$(RUN) python -m scripts.chat

clean: ## remove local state (.data)
	rm -rf .data
