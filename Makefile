# mlchaos — `make demo` runs the scenario catalogue on the embedded stack; `make test` runs the test suite.
# Both install what they need first (a virtualenv in .venv, toxiproxy-server built with Go into .venv/bin).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TOXIPROXY := $(BIN)/toxiproxy-server
RUNS ?= mlchaos-runs
PYTEST_ARGS ?=

.PHONY: setup demo test check docs lint bench chromium prometheus pushgateway actionlint wrk k8s-testenv k8s-node k8s-images clean help

help:
	@echo "make demo   run the monthly suite (every scenario in scenarios/) against the embedded reference stack"
	@echo "make test   run the test suite (installs everything first)"
	@echo "make check  the inner loop: lint, types and the tests that need no stack, cluster, Prometheus,"
	@echo "            browser, load or end-to-end mlchaos run (under 2 minutes)"
	@echo "make setup  create $(VENV), install mlchaos with its extras and toxiproxy-server"
	@echo "make lint   ruff, mypy --strict and the import-layer contracts (make test checks them too)"
	@echo "make docs   regenerate docs/reference/ (fields, faults, verifiers, JSON Schemas) from the code"
	@echo "make k8s-testenv  build (or reuse) the Kubernetes test environment; make test does it first"
	@echo "make k8s-node     install the real node's Debian packages (containerd, runc, CNI plugins); make test does it"
	@echo "make k8s-images   build (or reuse) the real node's container images (root, podman); make test does it first"
	@echo "make bench  benchmarks (recording overhead, master ingest, row cost, analysis scaling, injection"
	@echo "            precision, MTTR accuracy, cold start); installs wrk; writes the tables into bench/README.md"
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

# The signal tests (tests/signals) read breaker states through PromQL from a real Prometheus server they start
# themselves: Debian's `prometheus` package, installed without leaving its service running. As with chromium, the
# tests that need it fail saying so when it is missing: nothing is skipped silently.
prometheus:
	@scripts/install-prometheus.sh || echo "warning: prometheus could not be installed; the PromQL tests will fail" >&2

# The publishing tests (tests/publish) push a suite's results to a real Pushgateway (Debian's
# `prometheus-pushgateway`, its service not left running) scraped by the real Prometheus above; they fail saying so
# when it is missing.
pushgateway:
	@scripts/install-pushgateway.sh || echo "warning: prometheus-pushgateway could not be installed; the Pushgateway tests will fail" >&2

# The Kubernetes tests (tests/k8s) need a real API server: kube-apiserver, controller-manager, scheduler, etcd, kwok
# and helm, built from Go modules and cached in ~/.cache/mlchaos/k8s (~10 min cold, a second when cached).
k8s-testenv:
	scripts/k8s-testenv.sh build

# tests/realnode's single node (kubelet on containerd + runc, kube-proxy, CoreDNS, a CNI bridge) needs Debian's
# containerd, runc and CNI plugins; containerd's own service is kept stopped (~25 s cold, instant when installed).
k8s-node:
	scripts/k8s-node.sh install

# tests/realnode runs the charts on a real node, from images built here without a registry (scripts/k8s-images.sh):
# a debootstrap'ed Debian base, the Dockerfile's mlchaos image, redis, and toxiproxy (.venv/bin's); cached in
# ~/.cache/mlchaos/images by a hash of their inputs (~3.5 min cold, a second when cached).
k8s-images: setup
	scripts/k8s-images.sh build

# tests/test_recipes.py lints the GitHub Actions recipe (docs/recipes/) with actionlint, built from its Go module.
actionlint:
	@scripts/install-actionlint.sh $(BIN) || echo "warning: actionlint could not be installed; the recipe lint will fail" >&2

test: setup chromium prometheus pushgateway actionlint k8s-testenv k8s-node k8s-images
	$(BIN)/pytest $(PYTEST_ARGS)

# The inner loop. Markers say what a test needs (tests/conftest.py); MLCHAOS_FAST_LOOP=1 fails a selected test that
# starts a stack, cluster, Prometheus, browser, mlchaos or a load anyway, so the selection cannot silently grow slow.
# tests/test_fast_loop.py holds this expression against the markers.
FAST_TESTS := not stack and not cluster and not prometheus and not browser and not e2e and not load and not lint and not realnode

check: lint
	MLCHAOS_FAST_LOOP=1 $(BIN)/pytest -p no:cacheprovider -m "$(FAST_TESTS)" $(PYTEST_ARGS)

# docs/reference/ is generated from the models and registries; tests/test_reference_docs.py fails when it is stale.
docs: $(INSTALLED)
	$(BIN)/python -m mlchaos.experiments.reference_docs docs/reference

# Each benchmark writes its table into bench/README.md; together they take 10-15 minutes on 2 cores.
wrk:
	scripts/install-wrk.sh

bench: setup wrk
	$(BIN)/python bench/report_scaling.py
	$(BIN)/python bench/recording_memory.py
	$(BIN)/python bench/kill_recording.py
	$(BIN)/python bench/load_overhead.py
	$(BIN)/python bench/master_ingest.py
	$(BIN)/python bench/row_cost.py
	$(BIN)/python bench/injection_precision.py
	$(BIN)/python bench/mttr_accuracy.py
	$(BIN)/python bench/cold_start.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/typecheck.sh $(abspath $(BIN))
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(RUNS) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
