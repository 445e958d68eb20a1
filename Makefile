# Two commands on a fresh machine:  `make demo` (the default workflow) and `make test` (the test suite).
# Both create .venv first. On a CUDA machine: make demo TORCH_SPEC="torch==2.13.0" picks the CUDA build of the
# same pin from PyPI; the CPU wheel comes from the local wheelhouse/PyPI on CPU-only machines.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
CORES ?= 2
SNAKEMAKE := $(VENV)/bin/snakemake

.PHONY: install demo report full study reuse olmix-design test test-fast lint bench gpu-check clean

install: $(VENV)/.installed

# uv (from PyPI, into the venv) installs the pinned torch and the project in one resolve: ~40 s against ~85 s
# for pip on 2 cores (docs/benchmarks.md). The torch pin is part of that resolve: without it, the unpinned
# `torch>=2.4` of pyproject resolves to the newest release plus several GB of CUDA wheels. Bytecode is
# compiled at install, as pip does, so no import compiles it again. uv does not read pip's settings: a local
# wheelhouse of pip's (PIP_FIND_LINKS, or find-links in pip.conf) is passed on.
UV := $(VENV)/bin/uv
PIP_LINKS = $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
UV_LINKS = $(foreach dir,$(wildcard $(PIP_LINKS)),--find-links $(dir))

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(UV) pip install -q --python $(PY) --compile-bytecode $(UV_LINKS) "$(TORCH_SPEC)" -e ".[dev]"
	touch $@

demo: install  ## the default workflow (config.yaml) on the shipped corpus; prints Table 2 and Table 3
	$(SNAKEMAKE) --cores $(CORES)
	@echo; cat results/report/table2.md; echo; cat results/report/table3.md

report: install  ## the HTML report of the last run (tables and figures with captions)
	$(SNAKEMAKE) --cores $(CORES) --report results/report.html
	@echo "open results/report.html"

full: install  ## all six settings of the shipped corpus, three seeds (hours on CPU)
	$(SNAKEMAKE) --cores $(CORES) --configfile config.yaml config/sample-full.yaml

study: install  ## the CPU study of the paper's claims (6 seeds; about 90 minutes on 2 cores)
	$(SNAKEMAKE) --cores $(CORES) --configfile config.yaml config/study.yaml
	@echo; cat results/study/report/claims.md; echo; cat results/study/report/table2.md

reuse: install  ## Olmix's mixture reuse: 4 updates, 5 strategies, 3 seeds (about 41 minutes on 2 cores)
	$(SNAKEMAKE) --cores $(CORES) --configfile config/olmix-reuse.yaml
	@echo; cat results/olmix-reuse/reuse/report/reuse.md; echo; cat results/olmix-reuse/reuse/report/stages.md

olmix-design: install  ## Olmix's design space on the downstream tasks: swarms for m = 2, 3, 5, 7, resampled fits, trained proposals, claims (24 to 35 minutes on 2 cores)
	$(SNAKEMAKE) --cores $(CORES) --configfile config/olmix-design.yaml
	@echo; cat results/olmix-design/report/claims.md; echo; cat results/olmix-design/report/kstar.md

test: install  ## the whole suite (unit, workflow dry runs, end to end), over $(CORES) pytest-xdist workers (a module per worker: its shared workflow runs once)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -q -n $(CORES) --dist loadscope --durations=10

test-fast: install  ## unit tests only
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check pipeline_lib tests bench scripts
	$(VENV)/bin/ruff format --check pipeline_lib tests bench scripts

bench: install  ## training throughput of the default model on this machine
	$(PY) bench/train_throughput.py --model tiny --vocab 2048 --batch 16 --threads 1

gpu-check:  ## the device check on a CUDA machine (CUDA tests, throughput, runs; <= 8 min on one H100)
	bash bench/gpu_check.sh

.PHONY: gpu-study
gpu-study:  ## the GPU study on a CUDA machine (stratified, Aioli, grid search, 48 paired seeds; <= 6 min)
	bash bench/gpu_study.sh

clean:
	rm -rf results .snakemake
