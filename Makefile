# The two commands a newcomer needs: `make run` and `make test` (see README.md).
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install system-deps run test lint bench
install: $(VENV)/.installed

# System packages the suite needs (chromium, …): installed when missing, or the command to run is printed.
system-deps:
	bash scripts/system-deps

run: install
	$(VENV)/bin/portico run --demo

test: system-deps install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python -m bench
