# beatless: `make run` serves the API against an embedded emulated AWS; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
MOTO_PORT ?= 5000
PYTEST_ARGS ?=
# Two pytest workers (pytest-xdist): the suite waits on subprocesses and servers as much as it
# computes; `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2

.PHONY: help venv run reset test lint format synth bench fuzz clean

help:
	@echo "make run    serve the API on 127.0.0.1:$(PORT) against moto on 127.0.0.1:$(MOTO_PORT)"
	@echo "           LOG=quiet|verbose: failures only, or also ctx.log lines, fires and hand-offs"
	@echo "           keeps its state (jobs, runs, keys, queues) in .run/state across restarts"
	@echo "make reset  wipe make run's state: the next make run starts empty"
	@echo "make test   lint, then run the whole test suite"
	@echo "make format format the code with ruff"
	@echo "make synth  write the CloudFormation template to cdk.out/ (offline)"
	@echo "make bench  print the benchmarks and write docs/performance.md (QUICK=1: small sizes)"
	@echo "make fuzz   the long hardening mode: schemathesis, properties, faults, load (EXAMPLES=200)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .  # the beatless command
	touch $(STAMP)

run: $(STAMP)
	@PORT=$(PORT) MOTO_PORT=$(MOTO_PORT) $(if $(LOG),BEATLESS_LOG_LEVEL=$(LOG)) exec $(BIN)/python -m chalicelib.local.runtime

# make run's emulated AWS state (chalicelib/local/state.py); BEATLESS_STATE_DIR moves it.
reset:
	rm -rf "$${BEATLESS_STATE_DIR:-.run/state}"
	@echo "make run's state wiped: the next make run starts empty"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest --durations=15 $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS)) $(PYTEST_ARGS)

synth: $(STAMP)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/python infra/app.py
	$(BIN)/cfn-lint cdk.out/*.template.json
	@echo "template: $$(ls cdk.out/*.template.json)"

bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick,)

# The hardening tests at length: more schemathesis and hypothesis examples, a random seed, a longer load.
EXAMPLES ?= 200
fuzz: $(STAMP)
	BEATLESS_FUZZ_EXAMPLES=$(EXAMPLES) BEATLESS_LOAD_REQUESTS=$${BEATLESS_LOAD_REQUESTS:-3000} \
		$(BIN)/python -m pytest tests/hardening -s $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache cdk.out chalice.out
