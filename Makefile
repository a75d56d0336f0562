# The two commands: `make run` (set up and start everything) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Split mode: every app on a PostgreSQL database of its own (CI runs the suite this way too).
PG_URL ?= postgres://postgres@127.0.0.1:5432
SPLIT_ENV = DATABASE_URL=$(PG_URL)/oc_split_default \
	TARGETS_DATABASE_URL=$(PG_URL)/oc_split_targets \
	JOBS_DATABASE_URL=$(PG_URL)/oc_split_jobs \
	EXECUTION_DATABASE_URL=$(PG_URL)/oc_split_execution \
	SCHEDULING_DATABASE_URL=$(PG_URL)/oc_split_scheduling \
	AUDIT_DATABASE_URL=$(PG_URL)/oc_split_audit

.PHONY: install run test test-split test-split-all lint format console console-check console-api console-screenshots bench bench-execution bench-scheduling bench-audit \
	bench-target-list bench-streams bench-console bench-dashboard bench-audit-console clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	@test -x $(BIN)/pip || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtualenv. On Debian/Ubuntu: apt-get install -y python3-venv"; \
	  rm -rf $(VENV); exit 1; }; }
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate_all
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py runall

test: $(STAMP)
	$(BIN)/pytest

# The suite again with a database per app, less what cannot depend on the layout: the
# real-time tests of minutes (marker slow), those of real processes and gateways (marker once)
# and, after a `make test` of this same checkout, the tests its alias guard recorded as using
# one alias and nothing database-wide (docs/testing.md). Without such a record (or after any
# change since), every test runs; `make test-split-all` always runs every test.
test-split: $(STAMP)
	$(SPLIT_ENV) $(BIN)/pytest -m "not slow and not once" --alias-record=use

test-split-all: $(STAMP)
	$(SPLIT_ENV) $(BIN)/pytest -m "not slow and not once" --alias-record=off

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- The web console (console/; docs/console.md) ---------------------------------------------------
# Its built bundle (opsconductor/console/bundle/) and typed API client (console/src/api/) are
# committed: `make run` and `make test` need only Python. These need Node.js 20.19+ and npm.
NPM ?= npm
CONSOLE_GENERATED = opsconductor/console/bundle console/src/api

# Install the console's packages (as locked) and build its bundle.
console:
	cd console && $(NPM) ci --no-audit --no-fund
	cd console && $(NPM) run build

# Typecheck, lint and unit-test the console, then rebuild it: the rebuild must leave the
# committed bundle and API client as they are (a change of the sources or of the API that was
# not rebuilt and committed fails here, as in CI).
console-check: console-api
	cd console && $(NPM) ci --no-audit --no-fund
	cd console && $(NPM) run typecheck
	cd console && $(NPM) run lint
	cd console && $(NPM) run test
	cd console && $(NPM) run build
	@changed="$$(git status --porcelain -- $(CONSOLE_GENERATED))"; \
	if [ -n "$$changed" ]; then \
	  echo "$$changed"; \
	  echo "The committed console bundle or API client differs from what its sources build:"; \
	  echo "run make console-api and make console, and commit $(CONSOLE_GENERATED)."; \
	  exit 1; \
	fi

# Regenerate the console's API description (console/src/api/openapi.json) from the API of now,
# and its types (schema.d.ts) when node is installed. The schema is made with the default
# settings on the embedded database, whatever databases the environment names, so that it is
# the same on every machine.
console-api: $(STAMP)
	env -u DATABASE_URL -u TARGETS_DATABASE_URL -u JOBS_DATABASE_URL -u EXECUTION_DATABASE_URL \
	  -u SCHEDULING_DATABASE_URL -u AUDIT_DATABASE_URL -u OPSCONDUCTOR_ENV \
	  DJANGO_SETTINGS_MODULE=config.settings OPSCONDUCTOR_VAR_DIR="$$(mktemp -d)" \
	  $(BIN)/python manage.py spectacular --format openapi-json --file console/src/api/openapi.json
	@if command -v node >/dev/null && [ -d console/node_modules ]; then \
	  cd console && $(NPM) run api; \
	elif command -v node >/dev/null; then \
	  cd console && $(NPM) ci --no-audit --no-fund && $(NPM) run api; \
	else \
	  echo "node is not installed: console/src/api/schema.d.ts was not regenerated"; \
	fi

# The console's browser tests, writing their screenshots (light theme, 1280x800) to
# docs/console/<page>.png for docs/console.md; elsewhere they go to a temporary directory.
console-screenshots: $(STAMP)
	CONSOLE_SCREENSHOTS=1 $(BIN)/pytest tests/console -m once

bench: $(STAMP)
	$(BIN)/python -m bench

# OpsConductor vs ansible-core on TARGETS local sshd targets, cold and warm (docs/benchmarks.md).
TARGETS ?= 200
bench-execution: $(STAMP)
	$(BIN)/python -m bench execution --targets $(TARGETS)

# SCHEDULES schedules fired by beat + a worker for MINUTES minutes while edited (docs/benchmarks.md).
SCHEDULES ?= 10000
MINUTES ?= 3
bench-scheduling: $(STAMP)
	$(BIN)/python -m bench scheduling --schedules $(SCHEDULES) --minutes $(MINUTES)

# Audit: RATE events/s for DURATION seconds through the outbox into the trail, then queries on
# RECORDS records, on a disposable database of its own (docs/benchmarks.md).
RATE ?= 5000
DURATION ?= 60
RECORDS ?= 1000000
AUDIT_BENCH_DB ?= $(PG_URL)/oc_bench_audit
bench-audit: $(STAMP)
	DATABASE_URL=$(AUDIT_BENCH_DB) $(BIN)/python -m bench audit \
	  --rate $(RATE) --seconds $(DURATION) --records $(RECORDS)

# Target list and selectors: CPU per request and latency on TARGET_LIST_TARGETS targets, on a
# disposable database of its own (docs/benchmarks.md, "Targets list").
TARGET_LIST_TARGETS ?= 5000
TARGETS_BENCH_DB ?= $(PG_URL)/oc_bench_targets
bench-target-list: $(STAMP)
	DATABASE_URL=$(TARGETS_BENCH_DB) $(BIN)/python -m bench target_list --targets $(TARGET_LIST_TARGETS)

# Live streams: STREAMS open streams of one run on the streams process, web, streams and worker
# as real processes in production configuration, on a disposable database of its own
# (docs/benchmarks.md, "Live streams").
STREAMS ?= 500
STREAMS_TARGETS ?= 10
STREAMS_BENCH_DB ?= $(PG_URL)/oc_bench_streams
bench-streams: $(STAMP)
	DATABASE_URL=$(STREAMS_BENCH_DB) $(BIN)/python -m bench streams --streams $(STREAMS) \
	  --targets $(STREAMS_TARGETS)

# The web console in headless Chromium: first load's JavaScript, a run of CONSOLE_TARGETS targets,
# 100,000 lines of output, a line's latency and VIEWERS open run pages, against web, streams
# and worker in production configuration, on a disposable database of its own (docs/benchmarks.md,
# "Web console"). The console's bundle must be built: cd console && npm ci && npm run build.
VIEWERS ?= 200
CONSOLE_TARGETS ?= 1000
CONSOLE_BENCH_DB ?= $(PG_URL)/oc_bench_console
bench-console: $(STAMP)
	DATABASE_URL=$(CONSOLE_BENCH_DB) $(BIN)/python -m bench console --viewers $(VIEWERS) \
	  --targets $(CONSOLE_TARGETS)

# The console's dashboard: first paint in headless Chromium with DASHBOARD_TARGETS targets,
# DASHBOARD_SCHEDULES schedules and DASHBOARD_AUDIT audit records, against web in production
# configuration, on a disposable database of its own (docs/benchmarks.md, "Dashboard"). The
# console's bundle must be built: cd console && npm ci && npm run build.
DASHBOARD_TARGETS ?= 10000
DASHBOARD_SCHEDULES ?= 10000
DASHBOARD_AUDIT ?= 1000000
DASHBOARD_BENCH_DB ?= $(PG_URL)/oc_bench_dashboard
bench-dashboard: $(STAMP)
	DATABASE_URL=$(DASHBOARD_BENCH_DB) $(BIN)/python -m bench dashboard \
	  --targets $(DASHBOARD_TARGETS) --schedules $(DASHBOARD_SCHEDULES) --audit $(DASHBOARD_AUDIT)

# The console's audit page paging through AUDIT_CONSOLE_RECORDS records in headless Chromium, each
# page against 300 ms end to end, on a disposable database of its own (docs/benchmarks.md, "Audit
# page"). The records are loaded once and reused by the next run. The console's bundle must be
# built: cd console && npm ci && npm run build.
AUDIT_CONSOLE_RECORDS ?= 1000000
AUDIT_CONSOLE_BENCH_DB ?= $(PG_URL)/oc_bench_audit_console
bench-audit-console: $(STAMP)
	DATABASE_URL=$(AUDIT_CONSOLE_BENCH_DB) $(BIN)/python -m bench audit_console \
	  --records $(AUDIT_CONSOLE_RECORDS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
