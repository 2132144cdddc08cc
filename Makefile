# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install upgrade-deps demo test lint format catalogs check-catalogs bench clean browser

# Installs the tested set pinned in constraints.txt; `make upgrade-deps` refreshes it.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Upgrade every dependency (held pins stay) and write the new tested set; then run `make test`.
upgrade-deps:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/constraints.py upgrade
	@touch $(STAMP)

catalogs: $(STAMP)
	$(BIN)/python tools/catalog.py compile

check-catalogs: $(STAMP)
	$(BIN)/python tools/catalog.py check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot/core storage

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Debian's chromium for the Playwright browser tests (never `playwright install`).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: lint catalogs browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP) catalogs
	$(BIN)/tenkepause demo

# Every benchmark prints its figures and PASS/FAIL against its target (about 45 minutes,
# most of it the 30-minute soak; `make bench SOAK_MINUTES=5` for a quick look).
SOAK_MINUTES ?= 30
bench: $(STAMP) catalogs
	$(BIN)/python bench/roster_import.py
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/idle_tick.py
	$(BIN)/python bench/demo_tour.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/soak.py --backend sqlite --minutes $(SOAK_MINUTES) --crash-after 120

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
