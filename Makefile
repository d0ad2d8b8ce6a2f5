# The two commands a newcomer needs: `make run` and `make test` (see README.md).
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test lint bench
install: $(VENV)/.installed

run: install
	$(VENV)/bin/portico run --demo

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python -m bench
