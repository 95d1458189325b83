# Relay: `make run` serves the demo site (web + Celery worker + beat); `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_ENV := DEBUG=1
TEST_ENV := SECRET_KEY=relay-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz SECURE_SSL_REDIRECT=0

BANDIT_PATHS = config customers leads feedback marketing okr demo

.PHONY: setup run serve test bench lint messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	mkdir -p var
	$(DEV_ENV) $(PY) manage.py migrate --no-input
	$(DEV_ENV) $(PY) manage.py seed_demo
	@echo "Serving http://127.0.0.1:8000 with a Celery worker and beat; Ctrl-C stops all three."
	@$(DEV_ENV) $(PY) manage.py serve_demo 127.0.0.1:8000

# Production (README "Deploy"): static files collected, migrations applied, gunicorn with DEBUG off.
serve: setup
	$(PY) manage.py collectstatic --no-input
	$(PY) manage.py migrate --no-input
	$(VENV)/bin/gunicorn -c python:config.gunicorn config.wsgi

# The tests in TEST_WORKERS processes (pytest-xdist; each its own test database), TEST_WORKERS=0 in this one.
TEST_WORKERS ?= 2

test: setup
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Benchmark (README "Benchmark"): PostgreSQL only; the load needs Debian's wrk, installed here when missing.
bench: setup
	@test -n "$$DATABASE_URL" || (echo "make bench measures PostgreSQL: set DATABASE_URL=postgres://..." && exit 2)
	@command -v wrk >/dev/null || $$([ "$$(id -u)" = 0 ] || echo sudo) sh -c \
		'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'
	$(TEST_ENV) $(PY) manage.py migrate --no-input
	$(TEST_ENV) RELAY_PLAIN_STATIC=1 $(PY) manage.py bench_data --reset $(BENCH_DATA_ARGS)
	$(TEST_ENV) RELAY_PLAIN_STATIC=1 $(PY) manage.py bench $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	@# bandit warns on stderr about every reviewed `# nosec`; on a finding it runs again to show everything.
	@$(VENV)/bin/bandit -q -c pyproject.toml -r $(BANDIT_PATHS) 2>/dev/null || $(VENV)/bin/bandit -c pyproject.toml -r $(BANDIT_PATHS)
	@# vulture's 60 % "unused variable/attribute" are class attributes frameworks read by name (pyproject).
	@$(VENV)/bin/vulture | grep -Ev "unused (variable|attribute) '.*' \(60% confidence\)"; \
		test $$? -eq 1 || (echo "dead code above; names used by string go in .ci/vulture_allowlist.py" && exit 1)
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run

messages: setup
	$(DEV_ENV) $(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var
	$(DEV_ENV) $(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

clean:
	rm -rf $(VENV) var
