# Tongka — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# tests run in parallel processes (pytest-xdist); each has its own PostgreSQL database
TEST_WORKERS ?= 2

.PHONY: install run test bench lint format clean catalogs

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: migrate the embedded SQLite database, load demo data, serve on 127.0.0.1:8000
run: install
	$(BIN)/tongka db upgrade
	$(BIN)/tongka demo
	$(BIN)/tongka sandbox-gateway --host 127.0.0.1 --port 8100 & GATEWAY=$$!; \
	trap 'kill $$GATEWAY 2>/dev/null' EXIT INT TERM; \
	TONGKA_RUN_WORKER_IN_PROCESS=true $(BIN)/tongka serve --host 127.0.0.1 --port 8000

## test: the whole suite (PostgreSQL suite required when CI=true)
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

## bench: performance benchmarks on PostgreSQL (prints tables; see bench/RESULTS.md)
bench: install
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/cards_issue.py

## catalogs: add new console texts to the gettext catalogs (then write their Chinese)
catalogs: install
	$(BIN)/python -m tongka.web.catalogs update

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
