# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MOTCUA_DATABASE_URL ?= sqlite:///./var/motcua.db

.PHONY: run test venv scheduler mock-portal fuzz bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(BIN)/.installed

## run: migrate the SQLite file, load the demo data, serve http://127.0.0.1:8000
run: venv
	$(BIN)/motcua migrate
	$(BIN)/motcua seed-demo
	$(BIN)/motcua serve --host 127.0.0.1 --port 8000

## test: the whole suite, on SQLite and PostgreSQL
test: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

scheduler: venv
	$(BIN)/motcua scheduler

mock-portal: venv
	$(BIN)/motcua mock-portal

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
