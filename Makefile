# Two entry points a new machine needs: `make demo` and `make test`. Both set up what they
# need (a virtualenv with the package installed editable) and are safe to run again.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean labextension jstest chromium lab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# pip would write the wheel's data through the `labextension develop` link into the
	@# build folder, and an install.json there breaks the next install: drop the link
	@# (`make labextension` makes it again).
	@if [ -L $(VENV)/share/jupyter/labextensions/liminal-jupyter ]; then \
	  rm -f $(VENV)/share/jupyter/labextensions/liminal-jupyter $(LABEXT_LINKED); fi
	rm -f liminal_jupyter/labextension/install.json
	$(BIN)/python -m pip install --quiet --upgrade pip
	SKIP_JUPYTER_BUILDER=1 $(BIN)/python -m pip install --quiet -e '.[test,airflow,airflow-kubernetes]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

DEMO_NB := example_notebooks/iris_classification.ipynb

demo: $(STAMP)
	$(BIN)/liminal-nb inspect $(DEMO_NB)
	$(BIN)/liminal-nb run $(DEMO_NB)
	$(BIN)/liminal-nb runs $(DEMO_NB) --limit 3

lint: $(STAMP)
	$(BIN)/ruff check liminal_jupyter tests benchmarks

# The JupyterLab panel (labextension/): node modules, the TypeScript build, and the link
# that lets the venv's `jupyter lab` load it. Rebuilt only when its sources change.
LABEXT_BUILT := liminal_jupyter/labextension/package.json
LABEXT_SOURCES := package.json yarn.lock tsconfig.json .yarnrc.yml \
	$(wildcard labextension/src/*.ts labextension/src/*.tsx labextension/style/* labextension/schema/*)
JLPM := PATH="$(abspath $(BIN)):$$PATH" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/jlpm

LABEXT_LINKED := $(VENV)/.labextension-linked

node_modules/.yarn-state.yml: package.json yarn.lock $(STAMP)
	$(JLPM) install > .jlpm-install.log 2>&1 || { tail -n 40 .jlpm-install.log; exit 1; }
	touch $@

$(LABEXT_BUILT): $(LABEXT_SOURCES) node_modules/.yarn-state.yml
	$(JLPM) build:prod > .jlpm-build.log 2>&1 || { tail -n 40 .jlpm-build.log; exit 1; }
	touch $@

# Links the build into the venv (share/jupyter/labextensions/liminal-jupyter), as
# `pip install` of the wheel would place it.
$(LABEXT_LINKED): $(LABEXT_BUILT) $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

labextension: $(LABEXT_LINKED)

jstest: node_modules/.yarn-state.yml
	$(JLPM) test

# Browser tests drive Debian's chromium. CI runs as root: install it when missing.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   { apt-get update -qq && apt-get install -y -qq chromium; }) >/dev/null; }
	@test -x /usr/bin/chromium

# JupyterLab with the panel, opened on the example notebook (LAB_ARGS=--allow-root as root).
# allow_hidden lets JupyterLab open executed step notebooks (in the hidden .liminal/) as
# notebooks; without it the panel shows them in a read-only viewer.
lab: $(STAMP) labextension
	$(BIN)/jupyter lab --ContentsManager.allow_hidden=True $(LAB_ARGS) $(DEMO_NB)

# Tests run in parallel (pytest-xdist): one worker per core, at least two. The suite is
# bound by CPU (kernels, engine runs, servers), so more workers than cores gain nothing
# measurable (3 on 2 cores: 13:19 against 13:49, one sample each). Tests that share a
# server or a JupyterLab stay in one worker (tests/conftest.py). TEST_WORKERS=0 runs them
# serially.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 2 ] && n=2; echo $$n)

test: $(STAMP) lint labextension jstest chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

clean:
	rm -rf $(VENV) build dist *.egg-info node_modules lib tsconfig.tsbuildinfo liminal_jupyter/labextension
