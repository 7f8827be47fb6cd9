# Two commands work on a fresh machine: `make run` and `make test`.
# Each creates .venv if missing and (re)installs the project when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.camviewer-installed

.PHONY: run test test-slow bench screenshots demo-weights bundle clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/camviewer

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

clean:
	rm -rf build dist .pytest_cache
