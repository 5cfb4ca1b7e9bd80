# Two entry points that work on a fresh machine with Python 3.11: `make test`, `make devnet`.
# The venv is built from requirements.lock (exact versions); the project is installed
# editable on top of it without touching the network again for build tools.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

EVM    := node/evm
EVM_STAMP := $(EVM)/node_modules/.installed
PROMTOOL := $(BIN)/promtool

.PHONY: test lint typecheck unit venv lock clean devnet chromium fuzz evm-tools promtool

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check proto storage node devnet tests
	$(BIN)/ruff format --check proto storage node devnet tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict proto storage
	$(BIN)/mypy node devnet

test: lint typecheck chromium evm-tools promtool
	$(BIN)/python -m pytest

# solc-js (to build the contracts) and anvil (to run them), exact versions from the npm lock.
# npm 11 skips anvil's postinstall script; its platform package's binary runs as it is.
evm-tools: $(EVM_STAMP)

$(EVM_STAMP): $(EVM)/package.json $(EVM)/package-lock.json
	cd $(EVM) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# promtool checks and unit-tests the shipped alert rules (node/monitoring/alerts.yml) and lints
# a node's /metrics. Only that one binary is taken from Debian's prometheus package (downloaded
# and unpacked into the venv: no Prometheus server is installed or started).
promtool: $(PROMTOOL)

$(PROMTOOL): | $(STAMP)
	@echo "fetching promtool from Debian's prometheus package" >&2
	rm -rf .promtool && mkdir .promtool
	cd .promtool && { apt-get download -q prometheus >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; }
	dpkg-deb -x .promtool/prometheus_*.deb .promtool/unpacked
	cp .promtool/unpacked/usr/bin/promtool $@
	rm -rf .promtool

# The dashboard test drives Debian's headless Chromium; install it when it is missing.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the dashboard test" >&2; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# The thorough run: every fuzz target 100,000 inputs (figures in SECURITY.md), then the fuzz
# tests and the three simulators under the thorough profile (12.5 times the default
# schedules), then 100,000 requests to each HTTP API (the ledger's, a node's control API).
fuzz: $(STAMP) $(EVM_STAMP)
	$(BIN)/python -m tests.fuzz.run --inputs 100000
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest tests/fuzz tests/unit/test_simulator.py tests/unit/test_checkpoint_consensus.py \
	  tests/unit/test_epoch_simulator.py tests/evm/test_group_wallet_properties.py
	SWAPNET_HTTP_FUZZ_REQUESTS=100000 $(BIN)/python -m pytest -n0 -s tests/fuzz/test_fuzz_ledger_api.py \
	  tests/integration/test_operator.py::test_the_control_api_answers_every_request_as_described_and_refusals_change_nothing

# Re-resolve the lock from pyproject.toml's ranges (needs the package registry).
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	.lockvenv/bin/python -m pip install --quiet '.[test,dev]'
	.lockvenv/bin/python -m pip freeze --exclude swapnet --all | grep -v '^pip==' > requirements.lock
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# A fresh 4-node devnet in ./devnet-data, left running; `swapnet devnet down` stops it.
devnet: $(STAMP)
	$(BIN)/swapnet devnet up -n 4 --detach --dir devnet-data
