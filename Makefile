# One obvious command per task. Everything runs from ./.venv, which `make install` creates.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install lint format test test-quick test-tools schema screenshots demo cluster backup bench lock secrets clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(INSTALLED)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The screens' tests drive Debian's Chromium, promtool (Debian's prometheus) checks the
# metrics and alert rules, and nginx fronts several cash registers: installed here when
# missing, as bench installs wrk.
test: lint test-tools
	$(BIN)/python -m pytest

# Everything that needs no cluster, browser or nginx: for the loop between edits.
test-quick: lint
	$(BIN)/python -m pytest -m "not cluster and not browser"

test-tools:
	command -v chromium >/dev/null && command -v promtool >/dev/null && \
		{ command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || \
		{ apt-get update -qq && apt-get install -y -qq chromium prometheus nginx-light; }
	command -v patroni >/dev/null && command -v etcd >/dev/null && \
		command -v pgbackrest >/dev/null && test -x /usr/lib/postgresql/15/bin/postgres || \
		{ apt-get update -qq && \
		  apt-get install -y -qq patroni etcd-server pgbackrest postgresql-15; }

# db/schema.sql: the schema every migration applied produces (a normalized pg_dump), for readers;
# a test fails when it is out of date.
schema: install
	$(BIN)/python -m devtools.schema

# The guides' pictures of the two screens, made by the browser tests on this machine.
screenshots: install test-tools
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest tests/screens -q

demo: install
	$(BIN)/python -m devtools.demo

# nginx before CASH_REGISTERS (3) cash registers, a primary and a streaming replica, the
# analytics; runs until Ctrl-C or SIGTERM and leaves nothing running.
cluster: install test-tools
	$(BIN)/python -m devtools.cluster

# A backup of the running `make cluster` (TYPE=full, diff or incr), recorded for the metrics.
backup: install
	set -a && . $${CLUSTER_DIR:-.data/cluster}/cluster.env && set +a && \
		$(BIN)/python -m backup backup --type $${TYPE:-full}

# wrk and nginx (the topology section) come from Debian's packages; installed here when missing
# (needs root, as on our machines).
bench: install test-tools
	command -v wrk >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || \
		{ apt-get update -qq && apt-get install -y -qq wrk nginx-light; }
	$(BIN)/python -m bench $(BENCH_ARGS)

# The images' pinned, hash-checked dependencies, from requirements/*.in (uv from PyPI).
lock: install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	cd requirements && for name in service loader; do \
		../$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.12 \
			--python-platform x86_64-unknown-linux-gnu $$name.in -o $$name.txt; done

# docker compose reads its passwords and keys from files in secrets/ (git-ignored): made here when missing.
SECRETS := postgres_password cash_register_db_password analytics_db_password loyalty_card_key metrics_key \
	replication_password
secrets:
	@mkdir -p secrets
	@for name in $(SECRETS); do [ -s secrets/$$name ] || \
		$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(24))" > secrets/$$name; done
	@echo "passwords for docker compose are in secrets/ (git-ignored): $(SECRETS)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
