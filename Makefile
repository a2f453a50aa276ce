# Two entry points for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test clean bench

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform on its embedded defaults (SQLite, embedded Redis, local storage,
## a simulated ComfyUI machine); prints the dashboard URL and how to log in.
run: $(STAMP)
	$(BIN)/flask --app app up

## Run the whole test suite (set DATABASE_URL / REDIS_URL to run it on PostgreSQL / Redis).
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache tests/artifacts

## Benchmarks of the hot paths (needs wrk, PostgreSQL and Redis; see bench/run.py).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
