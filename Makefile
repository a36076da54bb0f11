# One-command entry points; each creates .venv/ with the package installed first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU build of PyTorch (an unpinned torch pulls a multi-GB CUDA build)
TORCH := torch==2.13.0

.PHONY: setup run test lint bench clean

$(BIN)/rekindle: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/rekindle

setup: $(BIN)/rekindle  ## create .venv with rekindle installed

run: setup  ## the main job on the embedded default (E. coli, fdp1): sample, train, generate, validate
	$(BIN)/rekindle run --output runs/default

test: setup  ## the whole test suite (slow end-to-end tests included) and the linter
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks tools

bench: setup  ## speed benchmarks, printed as tables
	$(BIN)/python benchmarks/bench_sampling.py

clean:
	rm -rf $(VENV) runs .pytest_cache
