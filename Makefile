# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv when it is missing and install the project with its pinned dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck yamllint workflows unit bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever the dependency declarations change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m scoutflow_gitops.demo

test: $(STAMP) lint typecheck yamllint workflows unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

yamllint: $(STAMP)
	$(BIN)/yamllint --strict .

# GitHub's own schemas for workflows and actions, zizmor's audits (offline), hadolint.
workflows: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml examples/scoutflow-app/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/zizmor --offline --min-severity medium --no-progress .github/workflows/*.yml examples/scoutflow-app/*.yml action.yml
	$(BIN)/hadolint Dockerfile
	$(BIN)/scoutflow-gitops validate --repo .

unit: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/yaml_edit.py
	$(BIN)/python bench/request_budget.py
	$(BIN)/python bench/storm.py

# Regenerate constraints.txt from a clean environment (needs the package registry).
lock:
	rm -rf .lockvenv
	$(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --upgrade "pip>=24"
	.lockvenv/bin/python -m pip install --quiet -e '.[test]'
	{ echo "# Exact versions of every package 'make test' installs; 'make lock' regenerates this file."; \
	  echo "# pip install -c constraints.txt -e '.[test]'"; \
	  .lockvenv/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
