# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MOTCUA_DATABASE_URL ?= sqlite:///./var/motcua.db

.PHONY: run test venv scheduler mock-portal fuzz bench clean lock

# Installs exactly the pinned, hash-checked versions of requirements-dev.lock (see `make lock`),
# then the app itself without resolving anything again.
$(BIN)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
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

## lock: re-resolve requirements-dev.lock (runtime + dev) and requirements.lock (runtime, for the
## Dockerfile) from pyproject.toml with uv, for Python 3.11 on every platform, with hashes, from PyPI.
## Existing pins are kept unless pyproject needs others; `make lock LOCK_FLAGS=--upgrade` takes the newest.
UV_VERSION ?= 0.13.9
LOCK_FLAGS ?=
LOCK_OPTIONS = --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet $(LOCK_FLAGS)
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_OPTIONS) -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements-dev.lock $(LOCK_OPTIONS) -o requirements.lock

## --- proof (issue 7): fuzzing, faults, benchmarks (docs/BENCHMARKS.md) ---
.PHONY: fuzz fuzz-strict fault-pg bench bench-generate bench-generate-scan bench-intake bench-intake-spread bench-action \
        bench-lookup bench-reports bench-scan bench-calendar bench-explain bench-explain-worklists bench-index-review \
        bench-aggregates bench-what-if bench-profile bench-late-risk-pass
BENCH_DB ?= motcua_bench

## fuzz: schemathesis over every operation, 200 fresh examples each, as the roles allowed, on SQLite and PostgreSQL
fuzz: venv
	FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/fuzz -q -p no:cacheprovider

## fuzz-strict: the same, also demanding that schema-violating input is rejected
fuzz-strict: venv
	FUZZ_EXAMPLES=50 FUZZ_RANDOM=1 FUZZ_STRICT=1 $(BIN)/python -m pytest tests/fuzz -q -p no:cacheprovider

## fault-pg: restart PostgreSQL (a private cluster on port 8178) under load
fault-pg: venv
	bash tests/faults/pg_cluster.sh start
	MOTCUA_FAULT_PG=1 MOTCUA_FAULT_PG_URL=postgresql://postgres@127.0.0.1:8178/postgres \
	MOTCUA_FAULT_PG_RESTART="bash tests/faults/pg_cluster.sh restart" \
	$(BIN)/python -m pytest tests/faults/test_pg_restart.py -q -rxs -s; status=$$?; \
	bash tests/faults/pg_cluster.sh stop; exit $$status

## bench-generate: the province in PostgreSQL database $(BENCH_DB) (2 million dossiers, COPY)
bench-generate: venv
	$(BIN)/python bench/generate.py --dossiers 2000000 --db $(BENCH_DB)

## bench-generate-scan: 500,000 open dossiers in motcua_bench_scan (deadline-scan data)
bench-generate-scan: venv
	$(BIN)/python bench/generate.py --open-only 500000 --db motcua_bench_scan

bench-intake: venv
	$(BIN)/python bench/api_bench.py intake --db $(BENCH_DB)
bench-intake-spread: venv
	$(BIN)/python bench/api_bench.py intake --spread --db $(BENCH_DB)
bench-action: venv
	$(BIN)/python bench/api_bench.py action --db $(BENCH_DB)
bench-lookup: venv
	$(BIN)/python bench/api_bench.py lookup --db $(BENCH_DB)
bench-reports: venv
	$(BIN)/python bench/reports_bench.py --db $(BENCH_DB)
bench-scan: venv
	$(BIN)/python bench/scan_bench.py --template motcua_bench_scan
bench-calendar: venv
	$(BIN)/python bench/calendar_bench.py
bench-explain: venv
	$(BIN)/python bench/explain.py --db $(BENCH_DB)
bench-explain-worklists: venv
	$(BIN)/python bench/explain_worklists.py --db $(BENCH_DB)
## bench-index-review: every GET route as each kind of user and the scheduler's jobs, explained; which index serves what
bench-index-review: venv
	$(BIN)/python bench/index_review.py --db $(BENCH_DB)
bench-aggregates: venv
	$(BIN)/python bench/aggregates_bench.py --db $(BENCH_DB)
## bench-late-risk-pass: the deadline scan's late-risk pass over every running dossier of $(BENCH_DB)
bench-late-risk-pass: venv
	$(BIN)/python bench/late_risk_pass.py --db $(BENCH_DB)
## bench-what-if: generates its own year (motcua_bench_whatif) and times the replay
bench-what-if: venv
	$(BIN)/python bench/what_if_bench.py
## bench-profile: py-spy (the bench extra, not in the lock) on one worker under the intake load; KIND=action|lookup|report
KIND ?= intake
bench-profile: venv
	$(BIN)/python -m pip install --quiet 'py-spy>=0.4,<0.5'  # the bench extra alone: the lock's pins stay
	$(BIN)/python bench/profile.py $(KIND) --db $(BENCH_DB)

## bench: every benchmark in order (generate first: make bench-generate bench-generate-scan)
bench: bench-calendar bench-intake bench-action bench-lookup bench-reports bench-scan bench-explain

## bench-login-memory: a worker's peak RSS under 80 concurrent bad logins (issue 12, docs/BENCHMARKS.md)
.PHONY: bench-login-memory
bench-login-memory: venv
	$(BIN)/python bench/login_memory.py --requests 80
