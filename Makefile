# One-command entry points; each creates .venv/ with the package installed first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU build of PyTorch (an unpinned torch pulls a multi-GB CUDA build)
TORCH := torch==2.13.0

.PHONY: setup run test lint docs bench clean

$(BIN)/rekindle: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/rekindle

setup: $(BIN)/rekindle  ## create .venv with rekindle installed

run: setup  ## the main job on the embedded default (E. coli, fdp1): sample, train, generate, validate
	$(BIN)/rekindle run --output runs/default

test: setup  ## the linter, the whole test suite (slow end-to-end tests included), the docs in strict mode
	$(BIN)/ruff check src tests benchmarks tools docs
	$(BIN)/python -m pytest
	$(MAKE) docs

lint: setup
	$(BIN)/ruff check src tests benchmarks tools docs

docs: setup  ## the documentation site → build/site (any warning fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

bench: setup  ## speed and memory benchmarks, printed as tables (issue 17's figures; long)
	$(BIN)/python benchmarks/bench_sampling.py --sizes 20000
	$(BIN)/python benchmarks/bench_perturbation.py --n-models 1000 --protocols fold
	$(BIN)/python benchmarks/bench_memory.py --output runs/bench_memory
	$(BIN)/python benchmarks/bench_generate.py --generator runs/bench_memory/generator.pt
	$(BIN)/python benchmarks/bench_write.py
	$(BIN)/python benchmarks/bench_classes.py --classes -9 -25 -28 -30 -35
	$(BIN)/python benchmarks/bench_device.py  # CPU against a GPU where torch sees one

clean:
	rm -rf $(VENV) runs .pytest_cache build/site
