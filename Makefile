# The two commands a newcomer needs (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
export NUMBA_CACHE_DIR ?= $(CURDIR)/var/numba_cache

.PHONY: run test test-quick bench bench-short demo train clean-venv

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

## Set up and start the dashboard on the embedded default (SQLite under ./var, shipped models).
run: $(VENV)/.installed
	scripts/system-deps.sh run
	$(PY) -m core.demo --if-missing
	$(PY) -m streamlit run dashboard/server.py --server.port $(PORT) --browser.gatherUsageStats false

## Set up everything the tests need (Debian packages, PostgreSQL on loopback) and run the whole suite.
test: $(VENV)/.installed-test
	scripts/system-deps.sh test
	scripts/run-tests.sh

## The quick subset (no browser, no slow tests) on both cores: about a minute and a half.
test-quick: $(VENV)/.installed-test
	$(PY) -m pytest -q -n 2 -m "not slow and not browser and not postgres"

## Every bench script, then the table in bench/results/TABLE.md and README.md (bench/run.py).
## With DATABASE_URL_PG set (an empty database) patient_list also runs on PostgreSQL.
bench: $(VENV)/.installed-test
	$(PY) bench/run.py

## The reduced form CI runs after the tests (results in bench/results/short/, README untouched).
bench-short: $(VENV)/.installed-test
	$(PY) bench/run.py --short

demo: $(VENV)/.installed
	$(PY) -m core.demo

train: $(VENV)/.installed
	$(PY) -m models.train all
