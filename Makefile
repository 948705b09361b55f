# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := myproject
# Port of `make run`: `make run PORT=8080`, or PORT / FLASK_RUN_PORT in the environment.
PORT ?= $(or $(FLASK_RUN_PORT),5000)

.PHONY: run worker beat test lint typecheck pytest client-test fuzz-quick fuzz e2e e2e-nginx e2e-rolling \
	e2e-jobs wheel-test container-test flood-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.py requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-otel.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt -e '.[dev,otel]'
	touch $@

# --debug: app.debug on and the reloader (flask run sets app.debug from the command line, not
# from DevelopmentConfig); --no-debugger: an error never answers with a traceback page.
run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	@echo "API:  http://127.0.0.1:$(PORT)/api/items"
	@echo "Docs: http://127.0.0.1:$(PORT)/api/docs"
	$(BIN)/flask run --debug --no-debugger --host 127.0.0.1 --port $(PORT)

# Background jobs (docs/jobs.md): they need a broker, CELERY_BROKER_URL or REDIS_URL.
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

# deploy/nginx.conf end to end (tests/deploy): Debian's nginx in front of gunicorn, the shipped
# file with only its ports changed to two free ones, a throwaway PostgreSQL database, and keys
# of the run's own (a prefix, deleted afterwards) on Redis: E2E_REDIS_URL, else TEST_REDIS_URL,
# else database 0. Runs beside other runs and whatever holds the shipped ports.
# It includes the rolling restart (tests/deploy/test_nginx_rolling.py, about 45 s), which
# `make e2e-rolling` runs alone.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
NGINX_INSTALLED := command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	echo "installing Debian's nginx"; \
	$(SUDO) apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nginx; }
e2e-nginx: $(VENV)/.installed-dev
	@$(NGINX_INSTALLED)
	$(BIN)/pytest -m nginx tests/deploy

e2e-rolling: $(VENV)/.installed-dev
	@$(NGINX_INSTALLED)
	$(BIN)/pytest -m nginx -s tests/deploy/test_nginx_rolling.py

# Four sockets flooding join/leave for 10 s while a prober reads an item (API.md "Real-time
# item events"; tests/test_realtime_flood.py): a live gunicorn on a free port. About 30 s.
flood-test: $(VENV)/.installed-dev
	$(BIN)/pytest -m flood tests/test_realtime_flood.py

# `pip install .` as an operator does it (tests/deploy/test_wheel.py): the wheel built from the
# checkout, installed with the pinned requirements into a fresh virtualenv outside it, migrates
# a SQLite file, answers a request and renders an email from another directory. About a minute.
wheel-test: $(VENV)/.installed-dev
	$(BIN)/pytest -m wheel tests/deploy/test_wheel.py

# The image (Dockerfile) and compose.yaml under Podman (tests/deploy/test_container.py): installs
# podman, runc, debootstrap and podman-compose 1.6 (build/container/), makes local stand-ins for
# the official base images once, builds the image, runs the compose file on free ports and
# drives a flow through nginx, then removes what it made. ../shared/containers.md has why.
CONTAINER_BUILD := $(CURDIR)/build/container
container-test: $(VENV)/.installed-dev
	CONTAINER_BUILD=$(CONTAINER_BUILD) bash tests/deploy/container/setup.sh
	CONTAINERS_CONF=$(CONTAINER_BUILD)/containers.conf \
	PATH=$(CONTAINER_BUILD)/podman-compose/bin:$$PATH \
	  timeout 1200 $(BIN)/pytest -m container -s tests/deploy/test_container.py

# Real parts cut or killed mid-way (marker `faults`, left out of `make test`): the email jobs
# through a Celery worker and an SMTP sink (broker cut, SMTP outage, worker killed mid-delivery)
# and a gunicorn worker killed mid-request (the idempotency key). PostgreSQL and Redis. ~40 s.
e2e-jobs: $(VENV)/.installed-dev
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	  $(BIN)/pytest -m faults -p no:warnings tests

# Browser tests (tests/e2e/): the example SPA and /api/docs in Debian's chromium, driven by
# Playwright for Python. Never `playwright install`: the tests launch /usr/bin/chromium.
# With TEST_DATABASE_URL / TEST_REDIS_URL the API runs on PostgreSQL / Redis, else SQLite.
E2E_ARTIFACTS := build/e2e-artifacts

$(VENV)/.installed-e2e: $(VENV)/.installed-dev requirements-e2e.txt
	$(BIN)/pip install --quiet -r requirements-e2e.txt
	touch $@

/usr/bin/chromium:
	apt-get update && apt-get install -y chromium

e2e: $(VENV)/.installed-e2e /usr/bin/chromium
	@echo "e2e: screenshots and server logs go to $(E2E_ARTIFACTS)/"
	MYPROJECT_E2E=1 $(BIN)/pytest tests/e2e -rs; \
	  status=$$?; echo "e2e: artifacts in $(CURDIR)/$(E2E_ARTIFACTS)/"; exit $$status

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
