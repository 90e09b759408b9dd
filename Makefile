# ferrycd developer commands. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
TOOLS_BIN := $(shell hack/tools.sh --print-bin)
export PATH := $(abspath $(BIN)):$(TOOLS_BIN):$(PATH)
PYTEST := $(PY) -m pytest
NPM ?= npm
# The web UI: ui/ (TypeScript, Vite + Preact) builds into server/webui, package data of ferry-server.
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	cd ui && $(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $@

server/webui/index.html: ui/node_modules/.installed $(UI_SOURCES)
	cd ui && $(NPM) run --silent build

.PHONY: ui
ui: server/webui/index.html ## Build the web UI (ui/ -> server/webui, served by ferry-server at /)

.PHONY: install
install: $(VENV)/.installed ui ## Create the virtualenv with ferry (editable) and the dev tools; build the web UI

.PHONY: tools
tools: ## Build the test tools (Kubernetes, etcd, helm, kustomize, kwok, grpcurl, buf) and system packages
	hack/system-packages.sh
	hack/tools.sh

.PHONY: protos
protos: install ## Regenerate ferry/v1 from protos/
	PY=$(PY) hack/protos.sh generate
	$(PY) hack/crds.py

.PHONY: lint
lint: install ## ruff, mypy --strict, import contracts, proto lint, generated-code drift
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	PY=$(PY) hack/protos.sh check
	$(PY) hack/crds.py --check
	hack/tools.sh buf >/dev/null
	PY=$(PY) hack/protos.sh lint

.PHONY: fmt
fmt: install ## Format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: test
test: install tools ## Every tier: unit (Python and UI), integration, e2e (what CI runs)
	cd ui && $(NPM) test
	$(PYTEST) tests/unit
	$(PYTEST) tests/integration
	$(PYTEST) tests/security
	$(PYTEST) tests/e2e

.PHONY: test-unit
test-unit: install ## Pure tests, seconds (Python and the UI's logic)
	cd ui && $(NPM) test
	$(PYTEST) tests/unit

.PHONY: test-ui-unit
test-ui-unit: ui/node_modules/.installed ## The UI's logic with vitest (tree, filters, diffs, watch)
	cd ui && $(NPM) test

.PHONY: test-integration
test-integration: install tools ## Against a real control plane, Git servers, helm/kustomize, redis
	$(PYTEST) tests/integration

.PHONY: test-security
test-security: install tools ## Adversarial repositories, URLs and requests against the repo server process
	$(PYTEST) tests/security

.PHONY: test-e2e
test-e2e: install tools ## Every component as a process; workloads and faults
	$(PYTEST) tests/e2e

.PHONY: run
# make run builds only what it starts: helm and kustomize, and the local control plane (etcd,
# Kubernetes, kwok) unless KUBECONFIG names a cluster to use. `make tools` builds the test tools too.
RUN_TOOLS := helm kustomize $(if $(KUBECONFIG),,etcd kwok kubernetes)

.PHONY: run-tools
run-tools: ## Build only what `make run` uses (helm, kustomize; the control plane unless KUBECONFIG is set)
	@command -v git >/dev/null || hack/system-packages.sh
	hack/tools.sh $(RUN_TOOLS)

run: install run-tools ## Start ferry locally (control plane, redis, every component) with a sample app
	$(PY) -m ferry_devenv.run $(RUN_ARGS)

.PHONY: docs
docs: $(VENV)/.installed ## Build the documentation site (docs/ -> site/) with MkDocs; --strict: a broken link fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

.PHONY: chart
chart: $(VENV)/.installed ## Regenerate deploy/chart/ferrycd (ferry's Helm chart) from deploy/base
	$(PY) hack/chart.py

.PHONY: docs-gen
docs-gen: $(VENV)/.installed ## Regenerate docs/' CLI, API and metrics references from the parser, protos and registries
	$(PY) hack/docs_gen.py

.PHONY: bench
bench: install tools ## Benchmarks under bench/ (figures as ratios to a same-run baseline)
	$(PY) -m bench

.PHONY: clean
clean: ## Remove the virtualenv and caches (the tool cache outside the repo stays)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build *.egg-info ui/node_modules server/webui
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
