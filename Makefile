# Reelgate: `make run` to start it, `make test` to test it. Nothing else needed
# on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: run test lint migrate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Local development: embedded SQLite, the ORM queue, the local renderer.
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	@echo "ALLOW_PRIVATE_URLS=1: callbacks and image URLs on localhost are allowed (local development only)."
	DEBUG=$${DEBUG:-1} ALLOW_PRIVATE_URLS=1 $(PY) manage.py rundev --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
