# paycore: `make run` brings the whole system up; `make test` runs every check.
# Both install what is missing first (uv, Python packages, RabbitMQ, Redis, the MongoDB front).

SHELL := /bin/bash
.DEFAULT_GOAL := help
# Where `make install` and infra/checks/install-*.sh put tools: per-user directories that a fresh
# machine's PATH lacks. Every recipe, script and test started from here finds its tools there.
export PATH := $(HOME)/.local/bin:$(HOME)/go/bin:/usr/local/go/bin:$(PATH)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV
PACKAGES := paycore payments_api webhook_ingress webhook_processor refund_worker email_worker \
	reconciler paycore_web cashfree_emulator smtp_sink

.PHONY: help install infra-up infra-down run test lint format api-docs typecheck pytest test-e2e test-chaos \
	validate-deploy security bench up down clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: ## install uv and the workspace's Python packages (locked)
	@command -v uv >/dev/null 2>&1 || [ -x $(UV) ] || python3 -m pip install --quiet --user uv \
		|| curl -LsSf https://astral.sh/uv/install.sh | sh
	$(UV) sync --all-packages --locked --quiet

infra-up: ## start MongoDB (FerretDB front), RabbitMQ and Redis on 127.0.0.1 (idempotent)
	infra/local/up.sh

infra-down: ## stop the local servers
	infra/local/down.sh

run: install ## start everything (servers, emulator, SMTP sink, six services, web pages), walk one payment through, print the console and a pay link, stay up until Ctrl-C
	$(UV) run python infra/local/run.py

test: install infra-up lint typecheck validate-deploy security pytest ## lint (ruff incl. security rules), typecheck, deploy checks, secret scan + dependency audit, and the whole pytest suite

lint: ## ruff check and format check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: ## ruff fix and format
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

api-docs: ## regenerate the endpoint, answer and error tables of services/payments-api/API.md from the endpoint table
	$(UV) run python -m payments_api.openapi services/payments-api/API.md

typecheck: ## mypy strict on every package
	$(UV) run mypy $(addprefix -p ,$(PACKAGES))

pytest: ## the pytest suite (unit, integration, end-to-end, browser) against the running servers
	infra/local/install-chromium.sh
	$(UV) run pytest --durations=15

test-e2e: install infra-up ## only the end-to-end tests
	$(UV) run pytest tests-e2e

test-chaos: install infra-up ## only the chaos, load and fuzz tests (stop and start the local servers), with their counts
	$(UV) run pytest tests-chaos

validate-deploy: ## validate compose.yaml, k8s/ (kubeconform, strict), Dockerfiles, Prometheus rules, Grafana
	bash infra/checks/install-promtool.sh
	bash infra/checks/install-compose.sh
	bash infra/checks/install-kustomize.sh
	bash infra/checks/install-kubeconform.sh
	$(UV) run python infra/checks/validate.py --require-tools
	$(UV) run python infra/checks/kubeconform.py

security: install ## secret scan against .secrets.baseline; dependency audit where PyPI's vulnerability data is reachable
	$(UV) run python infra/checks/security.py $(UV)

bench: install infra-up ## every benchmark in one run (under 5 min), one table: throughput, latency, CPU and MongoDB commands per operation per process, memory, ratio to a trivial endpoint
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(UV) run python bench/run.py

up: ## docker compose up (needs a Docker engine)
	docker compose up -d --build

down: ## docker compose down
	docker compose down

clean: infra-down ## stop the servers and delete their data
	rm -rf var
