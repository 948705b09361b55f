# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := myproject

.PHONY: run worker beat test lint typecheck pytest e2e-jobs bench clean

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

# Background jobs (README "Jobs and email"): they need a broker, CELERY_BROKER_URL or REDIS_URL.
worker: $(VENV)/.installed
	$(BIN)/celery -A myproject.celery_app worker --loglevel=INFO

beat: $(VENV)/.installed
	$(BIN)/celery -A myproject.celery_app beat --loglevel=INFO

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy myproject

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest --cov=myproject --cov-report=term

test: lint typecheck pytest

# The email jobs on real parts only (a worker process, an SMTP sink): PostgreSQL and Redis.
e2e-jobs: $(VENV)/.installed-dev
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/12} \
	  $(BIN)/pytest -p no:warnings tests/jobs/test_worker.py

bench: $(VENV)/.installed-dev
	bash bench/run.sh

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache instance/*.sqlite
