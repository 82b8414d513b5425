# Everything a fresh machine needs: Python 3.11 with pip (and, for the PostgreSQL tests, HUB_TEST_DATABASE_URL).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test bench install clean

$(BIN)/hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/hub

install: $(BIN)/hub

# The hub on the embedded SQLite default (./hub.db) with the demo data.
run: install
	$(BIN)/hub serve --demo

# The whole test suite (SQLite always; PostgreSQL too when HUB_TEST_DATABASE_URL is set).
test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench.ocpi_locations
	$(BIN)/python -m bench.ocpp_load
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.webhooks

clean:
	rm -rf $(VENV) hub.db hub.db-wal hub.db-shm hub.db.key .pytest_cache
