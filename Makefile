# PSA — the two Quick-start commands are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PSA := $(VENV)/bin/psa
PYTHON ?= python3
# Debian packages. To run: WeasyPrint's libraries (PDF reports). To test, besides: Chromium (browser journeys).
RUN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core
TEST_PACKAGES := $(RUN_PACKAGES) chromium

.PHONY: run test install install-test system-deps run-deps _apt lint clean bench

# What the app needs to run (`make run`); the test tools (pytest, Playwright, ruff…) only for `make test`.
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Installs the Debian packages the tests need, when missing (needs root, as in CI); fails when it cannot.
system-deps:
	@$(MAKE) --no-print-directory _apt PACKAGES="$(TEST_PACKAGES)" STRICT=1

# The packages the app needs to run; without root, or off Debian, says what is missing and what that
# affects, and carries on (everything but PDF export, which WeasyPrint draws with them, works without them).
run-deps:
	@$(MAKE) --no-print-directory _apt PACKAGES="$(RUN_PACKAGES)" STRICT=

_apt:
	@missing=""; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
	  echo "Not a Debian system: could not check or install $(PACKAGES)." >&2; \
	  echo "Install Pango, HarfBuzz and a font with your package manager for PDF export (WeasyPrint)$(if $(STRICT), and Chromium for the browser tests,).$(if $(STRICT),, The app starts anyway.)" >&2; \
	  [ -z "$(STRICT)" ] || exit 1; exit 0; fi; \
	for p in $(PACKAGES); do \
	  [ "$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null)" = installed ] || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	why="not root"; \
	if ! command -v apt-get >/dev/null 2>&1; then why="no apt-get"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "apt-get install$$missing"; \
	  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; then exit 0; fi; \
	  why="apt-get failed"; \
	fi; \
	if [ -n "$(STRICT)" ]; then echo "Missing Debian packages ($$why):$$missing (install them with apt-get as root)" >&2; exit 1; fi; \
	echo "Could not install ($$why):$$missing." >&2; \
	echo "PDF export (WeasyPrint) needs them; everything else works and the app starts anyway. As root: apt-get install$$missing" >&2

instance/secret_key:
	mkdir -p instance
	$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@
	chmod 600 $@

# Migrates SQLite at instance/psa.sqlite (or DATABASE_URL), loads the demo when the database is empty,
# starts an RQ worker with its scheduler when Redis answers, and serves on 127.0.0.1:$${PORT:-5000}.
run: install run-deps instance/secret_key
	@set -e; \
	export SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}"; \
	redis_candidate="$${REDIS_URL:-redis://127.0.0.1:6379/0}"; \
	if $(PY) -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()" "$$redis_candidate" 2>/dev/null; then \
	  export REDIS_URL="$$redis_candidate"; else unset REDIS_URL; fi; \
	$(PSA) db upgrade; \
	$(PSA) demo --if-empty; \
	if [ -n "$${REDIS_URL:-}" ]; then \
	  echo "Redis answers at $$REDIS_URL: starting the worker"; \
	  $(PSA) worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	else echo "Redis does not answer: no worker; e-mail is sent from the web process."; fi; \
	$(PSA) run --host 127.0.0.1 --port "$${PORT:-5000}"

# The whole suite: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set (.ci/run sets it).
# In PYTEST_WORKERS pytest-xdist processes (PYTEST_WORKERS=0: one process), each with its own PostgreSQL
# database (TEST_DATABASE_URL's name + _gw0, _gw1…, created when missing) and Redis database index
# (REDIS_URL's, then the next ones); see tests/conftest.py. PYTEST_ARGS are passed on to pytest.
# Default: one worker per CPU, 2 to 4 (the suite is CPU-bound: on 2 CPUs -n 3 was slower than -n 2).
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 2 ? 2 : n > 4 ? 4 : n )))
PYTEST_ARGS ?=
test: install-test system-deps
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/15}" $(PY) -m pytest -q -p no:cacheprovider \
	  -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Every bench script on the large demo (`psa demo --scale large`: a million time entries), each printing our
# figure against the bare SQL doing the same work in the same run. The large demo lives at
# BENCH_DATABASE_URL (default instance/bench-large.sqlite) and is built there first when that database is
# empty (about 3 minutes). On PostgreSQL: make bench BENCH_DATABASE_URL=postgresql://user@host/psa_bench
# Scripts that seed their own data (import, schedule refresh) use a scratch SQLite file and, when the large
# demo is on PostgreSQL (or TEST_DATABASE_URL is set), a scratch schema there too.
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/instance/bench-large.sqlite
bench: install instance/secret_key
	@set -e; export SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" REDIS_URL="" \
	  BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)"; \
	case "$$BENCH_DATABASE_URL" in postgres*) export TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$BENCH_DATABASE_URL}";; esac; \
	DATABASE_URL="$$BENCH_DATABASE_URL" $(PSA) db upgrade; \
	DATABASE_URL="$$BENCH_DATABASE_URL" $(PSA) demo --scale large --if-empty; \
	for script in bench/*.py; do case "$$script" in bench/common.py|bench/reports_common.py) ;; *) $(PY) "$$script" || exit 1;; esac; done

lint: install-test
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
