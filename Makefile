# Two entry points a new machine needs: `make demo` and `make test`. Both set up what they
# need (a virtualenv with the package installed editable) and are safe to run again.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,airflow,airflow-kubernetes]'
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

test: $(STAMP) lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build dist *.egg-info
