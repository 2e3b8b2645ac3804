# idgate: `make run` (the whole app locally) and `make test` (every test). Each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
SAM_VENV  := .venv-sam
CHECKOV_VENV := .venv-checkov
PY        := $(VENV)/bin/python
SAM       := SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam
ASL       := tools/node_modules/.bin/asl-validator
TRANSLATED := .aws-sam/translated-template.json
EXAMPLE_TEMPLATES := examples/eventbridge-consumer/template.yaml
PYTEST_ARGS ?=

.PHONY: help run test lint typecheck validate build unit integration e2e bench mutation clean

help:
	@echo "make run    - the whole application locally (API and demo page on http://127.0.0.1:3000)"
	@echo "make test   - every check and test (lint, types, sam validate/build, ASL, unit, integration, e2e, browser)"
	@echo "make bench  - the benchmarks"
	@echo "make mutation - mutation testing of the core on the fast tests, a score per module (about an hour)"
	@echo "make clean  - remove the virtual environments and build output"

$(VENV)/.installed: requirements-dev.txt layers/idgate/requirements.txt
	@rm -rf $(VENV)
	"$$(scripts/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@rm -rf $(SAM_VENV)
	"$$(scripts/find-python.sh)" -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	@touch $@

# checkov lives in its own virtual environment: its dependencies would clash with the project's pins.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@rm -rf $(CHECKOV_VENV)
	"$$(scripts/find-python.sh)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

$(ASL): tools/package.json tools/package-lock.json
	cd tools && npm ci --silent --no-audit --no-fund
	@touch $@

run: $(VENV)/.installed
	$(PY) -m devstack $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# cfn-lint reads .cfnlintrc (informational checks too); checkov reads the template through the SAM transform,
# where the roles SAM generates exist, and honours the skips each resource's Metadata justifies. The examples
# (README, Deploy) are checked too, so that what the README tells integrators to deploy stays valid; they
# hold no SAM resources, so checkov reads them as they are.
validate: $(SAM_VENV)/.installed $(VENV)/.installed $(CHECKOV_VENV)/.installed $(ASL)
	$(SAM) validate --lint --region us-east-1
	@for example in $(EXAMPLE_TEMPLATES); do \
	  echo "sam validate --lint -t $$example"; \
	  $(SAM) validate --lint --region us-east-1 -t "$$example" || exit 1; \
	done
	$(SAM_VENV)/bin/cfn-lint
	$(PY) -m devstack.translate $(TRANSLATED)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f $(TRANSLATED) \
	  $(addprefix -f ,$(EXAMPLE_TEMPLATES))
	@for definition in statemachine/*.asl.json; do \
	  $(ASL) --json-path "$$definition" --no-arn-check || exit 1; \
	done

build: $(SAM_VENV)/.installed $(VENV)/.installed
	$(SAM) build --region us-east-1 --cached --parallel

test: lint typecheck validate build $(VENV)/.installed
	scripts/ensure-chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(VENV)/.installed
	scripts/ensure-chromium.sh
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# The cold-start benchmark measures what `sam build` made: build first.
bench: build $(VENV)/.installed
	$(PY) -m pytest benchmarks --benchmark-only -p no:cacheprovider $(PYTEST_ARGS)

# Not part of `make test`: mutmut mutates the core ([tool.mutmut] in pyproject.toml) and runs the fast
# tests, module by module within MUTATION_MINUTES; ARGS="idgate.second_factor" runs only that module.
MUTATION_MINUTES ?= 60
mutation: $(VENV)/.installed
	$(PY) scripts/mutation.py --budget-minutes $(MUTATION_MINUTES) $(ARGS)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam tools/node_modules .pytest_cache .mypy_cache .ruff_cache .mutation
