# Everything a fresh machine needs: Python 3.11+ and make. The venv is built on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_STORE := .demo-store
POS    := $(BIN)/positioning --store $(DEMO_STORE)

.PHONY: demo test check lint types contracts bench stress fuzz sample-data live clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: install, ingest sample_data/ into a fresh store, run the scan, the summary, flows and the nowcast
demo: $(STAMP)
	rm -rf $(DEMO_STORE)
	$(POS) ingest members sample_data/members
	$(POS) ingest short-interest sample_data/short_interest
	$(POS) ingest prices sample_data/prices
	$(POS) ingest cot sample_data/cot
	$(POS) ingest short-volume sample_data/short_volume
	$(POS) ingest funds sample_data/funds
	$(POS) scan --format table
	$(POS) summary --format table
	$(POS) flows --days 10 --format table
	$(POS) nowcast --format table

## test: install and run the test suite
# pytest exits 5 when it collects no test: say so, and fail (an empty suite is not a pass).
test: $(STAMP)
	@$(BIN)/python -m pytest -q -n auto || { rc=$$?; [ $$rc -ne 5 ] || echo "make test: pytest collected no tests" >&2; exit $$rc; }

lint: $(STAMP)
	$(BIN)/ruff check positioning_cli tests
	$(BIN)/ruff format --check positioning_cli tests

types: $(STAMP)
	$(BIN)/mypy positioning_cli

## contracts: the layers (pyproject.toml [tool.importlinter]): the library never imports the CLI, the
## store knows nothing of what is computed from it
contracts: $(STAMP)
	$(BIN)/lint-imports

## check: lint + types + layer contracts + tests (what CI runs)
check: lint types contracts test

## bench: time ingest and scan of the sample data (see bench/README in the note)
bench: $(STAMP)
	$(BIN)/python -m positioning_cli.bench $(BENCH)

## stress: the long form of the store's kill, fault and concurrency suites (>= 25 kill -9, every fault),
## of the hostile-store sweeps (400 tampered manifests/journals, 24 SIGINT/SIGTERM mid-ingest), and
## every input bomb under a 1 GiB memory cap, single-member 10 GiB and 3 GiB gzip streams included
stress: $(STAMP)
	POSITIONING_STRESS=1 $(BIN)/python -m pytest -q tests/test_store_kill.py tests/test_store_faults.py tests/test_store_concurrency.py tests/test_store_hostile.py tests/test_bad_input_hostile.py

## fuzz: tens of thousands of hypothesis examples per parser (the default run does a few hundred), and
## 400 random runs of snapshots, full files and partial extracts against the nothing-lost model
fuzz: $(STAMP)
	POSITIONING_FUZZ=1 $(BIN)/python -m pytest -q tests/test_fuzz_parsers.py tests/test_nothing_lost.py

## sample-data: regenerate sample_data/ byte for byte from its seed
sample-data: $(STAMP)
	$(BIN)/python -m positioning_cli.sample_data sample_data

## live: (needs the network; not in CI) `update` against the real endpoints into a scratch store, then
## print what each source returned (data-sources.md §8.5 checklist)
LIVE_STORE := .live-store
live: $(STAMP)
	rm -rf $(LIVE_STORE)
	-$(BIN)/positioning --store $(LIVE_STORE) update; echo "update exit code: $$?"
	$(BIN)/positioning --store $(LIVE_STORE) calendar --format table
	$(BIN)/python -m positioning_cli.fetch.live $(LIVE_STORE)

clean:
	rm -rf $(VENV) $(DEMO_STORE) $(LIVE_STORE) .pytest_cache .mypy_cache .ruff_cache
