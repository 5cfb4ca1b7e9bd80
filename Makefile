# Two entry points that work on a fresh machine with Python 3.11: `make test`, `make devnet`.
# The venv is built from requirements.lock (exact versions); the project is installed
# editable on top of it without touching the network again for build tools.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck unit venv lock clean devnet

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

test: lint typecheck
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Re-resolve the lock from pyproject.toml's ranges (needs the package registry).
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	.lockvenv/bin/python -m pip install --quiet '.[test,dev]'
	.lockvenv/bin/python -m pip freeze --exclude swapnet --all | grep -v '^pip==' > requirements.lock
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

devnet: $(STAMP)
	@echo "make devnet: the devnet ledger and launcher are not built yet (issues 4 and 7)." >&2
	@exit 2
