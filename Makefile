# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/count_toy.py

test: $(STAMP)
	$(BIN)/ruff check loco_cli tests benchmarks examples
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_count_loss.py --json benchmarks/results/count_loss.json
	$(BIN)/python benchmarks/bench_features.py

lint: $(STAMP)
	$(BIN)/ruff check loco_cli tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
