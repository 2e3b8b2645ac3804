# idgate: `make run` (the whole app locally) and `make test` (every test). Each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
SAM_VENV  := .venv-sam
CHECKOV_VENV := .venv-checkov
LOCK_VENV := .venv-pip-tools
PY        := $(VENV)/bin/python
SAM       := SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam
ASL       := tools/node_modules/.bin/asl-validator
TRANSLATED := .aws-sam/translated-template.json
EXAMPLE_TEMPLATES := examples/eventbridge-consumer/template.yaml
PYTEST_ARGS ?=

.PHONY: help run test lint typecheck validate build lock unit integration e2e bench mutation clean

help:
	@echo "make run    - the whole application locally (API and demo page on http://127.0.0.1:3000)"
	@echo "make test   - every check and test (lint, types, sam validate/build, ASL, unit, integration, e2e, browser)"
	@echo "make bench  - the benchmarks"
	@echo "make mutation - mutation testing of the core on the fast tests, a score per module (about an hour)"
	@echo "make lock   - lock the layer's dependencies with their hashes (layers/idgate/requirements.lock)"
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

$(LOCK_VENV)/.installed: requirements-pip-tools.txt
	@rm -rf $(LOCK_VENV)
	"$$(scripts/find-python.sh)" -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-pip-tools.txt
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

# The layer's lock, from the pins of layers/idgate/requirements.txt: every package `sam build` installs in the
# layer, pinned, with the hashes of its files (layers/idgate/Makefile installs nothing else). Versions already
# locked stay while they fit; `make lock ARGS=--upgrade` takes the newest. boto3 and botocore, and what only
# they need, are the Lambda runtime's: left out (the "unsafe" packages of pip-compile's words). pip-compile
# resolves for this machine; the layer's packages ask for nothing that depends on the processor.
lock: $(LOCK_VENV)/.installed
	cd layers/idgate && CUSTOM_COMPILE_COMMAND="make lock" ../../$(LOCK_VENV)/bin/pip-compile --quiet \
	  --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	  --unsafe-package boto3 --unsafe-package botocore --unsafe-package s3transfer \
	  --unsafe-package python-dateutil --unsafe-package six \
	  --output-file requirements.lock $(ARGS) requirements.txt

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
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(LOCK_VENV) .aws-sam tools/node_modules .pytest_cache .mypy_cache .ruff_cache .mutation
