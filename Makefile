# Seawall: `make demo` installs and runs the drill on the built-in demo stack; `make test` installs
# what the tests need (Python packages and Debian packages) and runs lint, types and tests.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv

.PHONY: install install-dev system-deps bench-deps engine services demo test lint typecheck unit bench help-cache lock clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9

# install adds the runtime lock without removing anything (unlike install-dev's sync): `make demo` in a
# development checkout keeps ruff and mypy; the runtime lock's pins are the dev lock's
install: $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .

install-dev: $(UV)
	$(UV) pip sync --quiet --python $(BIN)/python requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .

system-deps:
	bash scripts/system-deps.sh

bench-deps:
	bash scripts/bench-deps.sh

engine: install-dev
	bash scripts/container-engine.sh

services:
	bash scripts/services.sh

demo: install
	$(BIN)/seawall demo

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy
	for f in tests/*/conftest.py tests/*/*/conftest.py; do [ ! -f "$$f" ] || $(BIN)/mypy "$$f" || exit 1; done

unit: install-dev
	$(BIN)/pytest -m "not integration and not engine" -q

test: system-deps services install-dev engine lint typecheck
	$(BIN)/pytest -q

bench: install-dev bench-deps services
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/probes.py

help-cache: install-dev
	$(BIN)/python -m seawall.cli.helpcache

# the runtime pins bind the dev lock too: `make install` adds the first to a venv synced to the second
lock: $(UV)
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml --extra dev -c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
