# The two commands a newcomer needs: `make demo` and `make test`. Each bootstraps .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint system-deps flink-deps bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fraudstream demo

system-deps:
	@bash scripts/system-deps.sh

# PyFlink lives in a venv of its own (its pins conflict with ours; see the script).
flink-deps:
	@bash scripts/flink-deps.sh

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy

test: $(STAMP) system-deps flink-deps lint
	$(PY) -m pytest

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .fraudstream .pytest_cache .mypy_cache .ruff_cache
