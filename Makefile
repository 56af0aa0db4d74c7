# The two commands of the README: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUM := $(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(SUM)
# `make run` installs only what running needs: the app and [local] (honcho, the mail sink).
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
ALL_EXTRAS := local,test,dev
REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: install run test lint format bench migrate lock

define pip_install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(1)]"
endef

$(STAMP): setup.cfg pyproject.toml
	$(call pip_install,$(ALL_EXTRAS))
	rm -f $(VENV)/.installed-[0-9]* && touch $@

$(RUN_STAMP): setup.cfg pyproject.toml
	$(call pip_install,local)
	rm -f $(VENV)/.installed-run-* && touch $@

install: $(STAMP)

migrate: $(RUN_STAMP)
	$(BIN)/alembic upgrade head

# honcho gives each process a PORT of its own (the web's, +100, +200...): links name the web's.
run: migrate
	@$(BIN)/python -c "import redis; redis.Redis.from_url('$(REDIS_URL)', socket_timeout=2).ping()" 2>/dev/null \
	  || { echo "Boxoffice needs Redis at $(REDIS_URL): start one (redis-server, or docker compose -f docker-compose.services.yml up -d redis) or set REDIS_URL."; exit 1; }
	PATH="$(CURDIR)/$(BIN):$$PATH" PUBLIC_BASE_URL="$${PUBLIC_BASE_URL:-http://127.0.0.1:$${PORT:-8000}}" \
	  $(BIN)/honcho start --port $${PORT:-8000}

test: install
	./.ci/ensure-services
	./.ci/ensure-browser
	./.ci/ensure-promtool
	./.ci/ensure-pgbouncer
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports --no-logo

# The image installs exactly these versions, checked against their hashes (Dockerfile): run this
# after changing install_requires in setup.cfg (a test checks that the lock covers them).
lock: install
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock setup.cfg

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	./.ci/ensure-services
	$(BIN)/python -m bench.flash_sale
