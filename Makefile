# mlchaos — `make demo` runs the scenario catalogue on the embedded stack; `make test` runs the test suite.
# Both install what they need first (a virtualenv in .venv, toxiproxy-server built with Go into .venv/bin).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TOXIPROXY := $(BIN)/toxiproxy-server
RUNS ?= mlchaos-runs
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench chromium clean help

help:
	@echo "make demo   run the monthly suite (every scenario in scenarios/) against the embedded reference stack"
	@echo "make test   run the test suite (installs everything first)"
	@echo "make setup  create $(VENV), install mlchaos with its extras and toxiproxy-server"
	@echo "make lint   ruff, mypy --strict and the import-layer contracts (make test checks them too)"
	@echo "make bench  time verifiers + report on 10k/100k/1M synthetic requests; writes bench/README.md"
	@echo "make clean  remove $(VENV), run directories and caches"

setup: $(INSTALLED) $(TOXIPROXY)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mlchaos needs Python >= 3.11; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(TOXIPROXY): scripts/install-toxiproxy.sh | $(BIN)/python
	scripts/install-toxiproxy.sh $(BIN)

demo: setup
	$(BIN)/mlchaos suite --out $(RUNS) scenarios/suites/monthly.yaml

# Headless Chromium opens a real report in the test suite. If it cannot be installed the suite still runs, and
# that test fails saying so: nothing is skipped silently.
chromium:
	@scripts/install-chromium.sh || echo "warning: chromium could not be installed; the browser test will fail" >&2

test: setup chromium
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/report_scaling.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/typecheck.sh $(abspath $(BIN))
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(RUNS) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
