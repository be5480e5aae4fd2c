# Reelgate: `make run` to start it, `make test` to test it. Nothing else needed
# on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: run test lint migrate clean serve bench wrk

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

# Production profile: PostgreSQL and Redis from the environment, gunicorn
# (WEB_WORKERS x WEB_THREADS), Q_CLUSTERS django-q2 clusters and the sweeper.
# Ctrl-C stops them all. docs/deploy.md: "Production and scaling out".
# For a load balancer: GET /healthz answers 200 while the web server lives,
# GET /readyz 200 or 503 naming what fails (database, Redis, the queue's age,
# the sweeper); docs/deploy.md: "Health checks". LOG_FORMAT=json for JSON logs.
serve: $(STAMP)
	@test -n "$$DATABASE_URL" || { echo "make serve: set DATABASE_URL=postgres://user:password@host:5432/name (make run needs nothing)"; exit 2; }
	@test -n "$$REDIS_URL" || { echo "make serve: set REDIS_URL=redis://host:6379/0 (make run needs nothing)"; exit 2; }
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput
	$(PY) manage.py serve --port $(PORT)

# Benchmarks of the production profile on this machine's PostgreSQL and Redis
# (a database and key prefix of their own, removed at the end); writes
# bench/RESULTS.md. BENCH_ARGS=--quick for small counts. bench/README.md.
bench: $(STAMP) wrk
	$(PY) bench/run.py $(BENCH_ARGS)

# The HTTP load generator of `make bench` (Debian's package).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get install -y wrk || { $$SUDO apt-get update && $$SUDO apt-get install -y wrk; }; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
