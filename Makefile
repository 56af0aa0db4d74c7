# The two commands of the README: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: install run test lint format bench migrate

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	@$(BIN)/python -c "import redis; redis.Redis.from_url('$(REDIS_URL)', socket_timeout=2).ping()" 2>/dev/null \
	  || { echo "Boxoffice needs Redis at $(REDIS_URL): start one (redis-server, or docker compose up -d redis) or set REDIS_URL."; exit 1; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $${PORT:-8000}

test: install
	./.ci/ensure-services
	./.ci/ensure-promtool
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	./.ci/ensure-services
	$(BIN)/python -m bench.flash_sale
