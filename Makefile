# `make run` and `make test` are the two commands a newcomer needs; both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The exact versions and hashes of the lock files, made from pyproject.toml's ranges by
# `make lock`; installed again whenever a lock file changes. The project itself is not
# installed: it has no package to install (`[tool.setuptools] packages = []`), and runs from here.
$(VENV)/.installed-run: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	touch $@

# requirements-dev.txt holds requirements.txt's versions (it is made under that constraint).
$(VENV)/.installed-dev: requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

# After a change to pyproject.toml's dependencies: the lock files again, keeping every version
# that still fits. `make lock LOCK_ARGS=--upgrade` takes the newest of everything,
# `LOCK_ARGS="--upgrade-package django"` of one package.
PIP_COMPILE = $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: lock
lock: $(VENV)/.installed-dev
	$(PIP_COMPILE) --output-file requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --constraint requirements.txt --output-file requirements-dev.txt \
		pyproject.toml

run: export DEBUG ?= true
run: $(VENV)/.installed-run
	$(PY) manage.py start

# The suite in TEST_PROCESSES pytest-xdist processes, each test file in one of them: most tests
# wait on real workers, vendors and browsers, so three share two cores well. Each process has
# its own test database and Redis database (settings_test.py). TEST_PROCESSES=0: one process.
TEST_PROCESSES ?= 3
test: $(VENV)/.installed-dev
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile $(TEST_ARGS)

# The figures of the README's "Benchmarks": a database and Redis database of the run's own (made
# and dropped), the vendor emulator, two RQ workers, gunicorn. DEBUG off, as in production; the
# keys below only ever protect the run's own, dropped, data. BENCH_ARGS="--only click" etc.
.PHONY: bench
bench: export SECRET_KEY ?= bench-only-secret-key-never-used-for-anything-else-0123456789
bench: export CREDENTIAL_KEYS ?= YmVuY2gtb25seS1jcmVkZW50aWFsLWtleS0zMi1ieXQ=
bench: $(VENV)/.installed-run
	$(PY) manage.py bench $(BENCH_ARGS)

# Full-page PNGs of the main pages, in English and Chinese, taken by the browser tests.
.PHONY: screenshots
screenshots: $(VENV)/.installed-dev
	SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest tests/browser

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var build *.egg-info
