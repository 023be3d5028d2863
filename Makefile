# The two README commands: `make demo` and `make test`. Everything they need is installed from here.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit functional bench fuzz clean emulators tools

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml setup.py | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-demo

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# The console's JS, vendored from npm into the package (nothing comes from a CDN when it runs); setup.py's build
# copies the same files, so a wheel built where node_modules exists carries them. The copies are not in git.
VENDOR := shared/console/static/vendor
VENDORED := $(VENDOR)/htmx.min.js $(VENDOR)/chart.umd.min.js
$(VENDOR)/htmx.min.js: node_modules/.installed
	@mkdir -p $(@D) && cp node_modules/htmx.org/dist/htmx.min.js $@
$(VENDOR)/chart.umd.min.js: node_modules/.installed
	@mkdir -p $(@D) && cp node_modules/chart.js/dist/chart.umd.min.js $@

emulators: node_modules/.installed $(VENDORED)

## demo: set up, then run the main job on local emulators (no cloud account needed; your config is untouched).
demo: $(VENV)/.installed-demo emulators
	$(BIN)/escher demo

## test: set up, then lint, type-check and run the whole suite (unit, functional on local emulators, e2e skipped).
# The suite runs in parallel (pytest-xdist): one process a core, at least two (many tests wait on servers, not the
# CPU); a test file stays on one worker, so its module fixtures (an estate, a server) are built once. PYTEST_WORKERS=0
# runs it in one process.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 3 ] && echo 3 || echo $$n)
# A short private temp root: the embedded Postgres's unix socket lives under a test's data dir and must stay under
# ~100 bytes, and xdist adds popen-gwN/ to every path; removed after the run.
test: $(VENV)/.installed-dev emulators tools lint typecheck
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/et.XXXX"); \
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25 --basetemp="$$tmp" $(PYTEST_ARGS); \
	status=$$?; rm -rf "$$tmp"; exit $$status

# tests in a real terminal (every --help and doctor at 80 columns, chat) drive tmux, the console's browser tests
# Debian's chromium: each installed when missing and apt-get may run; otherwise those tests skip with the reason
tools:
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get install -y -qq tmux >/dev/null 2>&1; } || echo "tmux not installed: the terminal tests will skip"
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } \
	  || echo "chromium not installed: the console's browser tests will skip"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy sees the installed layout (escher.cli is cli/, ...) through a tree of links built from the fixed folders.
typecheck: $(VENV)/.installed-dev
	@mkdir -p build/typecheck/escher
	@find build/typecheck/escher -maxdepth 1 -xtype l -delete
	@for f in shared/*; do ln -sfn ../../../$$f build/typecheck/escher/; done
	@for d in cli workers infra brain; do ln -sfn ../../../$$d build/typecheck/escher/$$d; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml --cache-dir ../../.mypy_cache -p escher

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

functional: $(VENV)/.installed-dev emulators tools
	$(BIN)/python -m pytest tests/functional $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev emulators
	$(BIN)/python -m bench
	$(BIN)/python -m bench.console_bench

## fuzz: 100,000 malformed deliveries per worker (FUZZ_ARGS="--count 1000 aws" for fewer); fails on any exception,
## cloud call or delivery not dead-lettered with a reason.
FUZZ_ARGS ?=
fuzz: $(VENV)/.installed-dev
	$(BIN)/python -m bench.fuzz_workers $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache $(VENDORED)
