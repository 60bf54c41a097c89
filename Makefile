# Two commands do all set-up on a fresh machine:  `make study` (the main job) and `make test`.
# Both create the virtual environment in .venv on first use.
#
# torch: the pinned CPU build keeps a GPU-less machine from pulling a multi-GB CUDA wheel. On a GPU machine,
# install the CUDA build you want first, or run e.g. `make TORCH=torch study` to take the registry's default.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: study test bench lint gpu-check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

study: $(STAMP)
	$(BIN)/depthlab study

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# one prepared run on a CUDA machine (docs/gpu.md); OUT=DIR keeps the table and logs
gpu-check: $(STAMP)
	bash benchmarks/gpu_check.sh

clean:
	rm -rf $(VENV) .pytest_cache
