# llmbook: the two commands a reader needs are `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.llmbook-installed
export NO_MKDOCS_2_WARNING := 1
export TIKTOKEN_CACHE_DIR :=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: serve site examples assets test test-site test-full test-fast browser-deps clean help gpu-records

help:
	@echo "make serve      build everything and serve the book at http://127.0.0.1:8000"
	@echo "make site       build the book into site/"
	@echo "make test       run every test (unit, reference, doc blocks, browser)"
	@echo "make test-full  the same, with slow exhaustive checks over everything"
	@echo "make examples   (re)run the example scripts that make figures and widget data"
	@echo "make gpu-records  on a machine with CUDA: run the GPU benchmarks (< 5 min), write records to commit"

# The pinned environment: one lock file with the whole dependency closure.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	@# The lock holds the CPU build of torch where one is available (it needs nothing else). Where pip
	@# found only the CUDA build (Python 3.12 from the public index, for example), torch cannot import
	@# without its CUDA libraries: install them as torch itself pins them (large, but exact).
	@$(PY) -c "import torch" 2>/dev/null || { echo "torch needs its CUDA libraries here; installing them"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check "torch==$$(sed -n 's/^torch==//p' requirements.lock)"; }
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# examples/bench_browser.py times the browser engine in Chromium (without it, it replays a record).
examples: $(STAMP) browser-deps
	$(PY) -m tools.run_examples

# The fonts and MathJax the site serves itself, written into docs/assets/ (git-ignored) as plain files.
assets: $(STAMP)
	$(PY) -m tools.site_assets

site: examples assets
	$(PY) -m mkdocs build --strict

serve: examples assets
	$(PY) -m mkdocs serve --strict -a 127.0.0.1:8000 -w llmbook -w examples

browser-deps: $(STAMP)
	@$(PY) -m tools.ensure_chromium

# The pinned wabt (package-lock.json) with which tests/test_wasm_build.py rebuilds kernels.wasm.
node-deps:
	@if ! command -v npm >/dev/null; then echo "npm not found: the kernels.wasm build check will be skipped"; \
	elif [ ! -f node_modules/.package-lock.json ] || [ node_modules/.package-lock.json -ot package-lock.json ]; then \
	  npm ci --no-audit --no-fund; fi

# The site is built once for the browser tests; pytest runs in TEST_WORKERS processes (pytest-xdist), one
# thread each (two processes with two threads each on two cores run several times slower), each test file
# in one process (a page's code blocks share its namespace, a module its fixtures).
TEST_WORKERS ?= 2
TEST_SITE := .cache/site
PYTEST := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 LLMBOOK_SITE_DIR=$(CURDIR)/$(TEST_SITE) \
  $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-site: examples assets
	@rm -rf $(TEST_SITE)
	$(PY) -m mkdocs build --strict --quiet --site-dir $(TEST_SITE)

test: test-site node-deps
	$(PYTEST)

test-full: test-site node-deps
	LLMBOOK_SLOW=full $(PYTEST)

# GPU benchmarks are recorded, not run by the build: examples/records/hardware_gpu/*.json, replayed by
# examples/hardware_roofline.py. Without CUDA this prints one line, does nothing and exits 0.
gpu-records: $(STAMP)
	@PYTHONPATH=. $(PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)"; rc=$$?; \
	if [ $$rc = 3 ]; then echo "make gpu-records: no CUDA device here, nothing measured, no record written"; \
	elif [ $$rc != 0 ]; then exit $$rc; \
	else set -x; PYTHONPATH=. $(PY) examples/bench_hardware_gpu.py --record && PYTHONPATH=. $(PY) examples/bench_train_step.py; fi

clean:
	rm -rf site docs/generated docs/assets .cache test-artifacts
