# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := myproject

.PHONY: run test lint typecheck pytest client-test fuzz-quick fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.py requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	@echo "API:  http://127.0.0.1:5000/api/items"
	@echo "Docs: http://127.0.0.1:5000/api/docs"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy myproject

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest --cov=myproject --cov-report=term

test: lint typecheck pytest

# A client generated from the live OpenAPI document (openapi-python-client) driven through a
# full flow against a live server (also part of `pytest`; this runs it alone, ~15 s).
client-test: $(VENV)/.installed-dev
	$(BIN)/pytest tests/test_generated_client.py

# schemathesis against a live server (tests/live_server.py; settings and the auth hook in
# tests/schemathesis.toml): no 500s, answers conform to the document, statuses documented.
# fuzz-quick is bounded and seeded for CI (about a minute); fuzz explores more, and statefully.
FUZZ := $(BIN)/python -m tests.live_server -- $(BIN)/schemathesis \
	--config-file tests/schemathesis.toml run '{url}/api/openapi.json' --checks all

fuzz-quick: $(VENV)/.installed-dev
	$(FUZZ) --max-examples 15 --phases examples,coverage,fuzzing --seed 1

fuzz: $(VENV)/.installed-dev
	$(FUZZ) --max-examples 200 --phases examples,coverage,fuzzing,stateful

bench: $(VENV)/.installed-dev
	bash bench/run.sh

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache instance/*.sqlite
