# advcourse — two commands: `make lab` and `make test`. Each creates .venv when it is missing.
PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
LAB_ARGS ?=
NOTEBOOK_DIR ?= notebooks
PYTEST_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-portable test-gpu audit-outputs install notebooks student-notebooks site site-deps clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## Open the course in JupyterLab (use LAB_ARGS=--no-browser on a headless machine).
## The course's own notebooks are trusted first, so their saved widgets are drawn before anything runs.
COURSE_NOTEBOOKS = $(wildcard $(NOTEBOOK_DIR)/[0-9][0-9]_*.ipynb)
lab: $(STAMP)
	$(if $(COURSE_NOTEBOOKS),$(VENV)/bin/jupyter trust $(COURSE_NOTEBOOKS) >/dev/null)
	$(VENV)/bin/jupyter lab --notebook-dir=$(NOTEBOOK_DIR) $(ROOT_FLAG) $(LAB_ARGS)

## Unit tests, property tests, reference tests and strict nbval over every notebook.
test: $(STAMP)
	$(PY) -m pytest --nbval -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

## Strict nbval over every notebook once more on a machine this one is not: PyTorch's plain
## (non-vectorised) kernels, one thread per kernel, and every convolution and linear output nudged
## by about 1e-6 of its value (ADVCOURSE_NUDGE, tests/startup/cpu_nudge.py), as another vendor's
## kernels would round it; two notebooks at a time (one per core). Stored outputs must hold on every
## learner's machine. Another configuration:
##   make test-portable PORTABLE_ENV="ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=2 ADVCOURSE_NUDGE=2" PORTABLE_WORKERS=1
PORTABLE_ENV ?= ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ADVCOURSE_NUDGE=1
PORTABLE_WORKERS ?= 2
test-portable: $(STAMP)
	$(PORTABLE_ENV) $(PY) -m pytest --nbval -p no:cacheprovider -n $(PORTABLE_WORKERS) --dist loadscope notebooks/

## The suite and every notebook on a CUDA GPU: every assert must hold; stored outputs are not
## compared (--nbval-lax), since a GPU's float results differ from the CPU's that stored them.
test-gpu: $(STAMP)
	$(PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'test-gpu: no CUDA device visible to torch')"
	$(PY) -m pytest --nbval-lax -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

## The knife-edge audit (maintainers, about an hour): every notebook on five emulated machines
## (threads 1/2/3, avx2 and plain kernels, two nudges); reports each printed line that moves and each
## asserted value next to its threshold, in build/audit/report.md. AUDIT_ARGS="09 --machines native,nudge2"
AUDIT_ARGS ?=
audit-outputs: $(STAMP)
	$(PY) scripts/audit_outputs.py $(AUDIT_ARGS)

## Re-execute every notebook in order and store its outputs (maintainers).
notebooks: $(STAMP)
	$(PY) scripts/run_notebooks.py

## Copies of the notebooks without exercise solutions, for workshops (STUDENT_DIR=build/student).
STUDENT_DIR ?= build/student
student-notebooks: $(STAMP)
	$(PY) scripts/student_copy.py $(STUDENT_DIR)

## The course website: build/site/, from the committed notebooks (none is re-executed), the
## landing page (site/index.md) and the docs pages; it works offline (docs/site.md).
## The first run installs the `site` extra into .venv and fetches the pinned MathJax and widget
## JavaScript from the npm registry (site/web-assets.json, checked against its sha512); after that
## `make site` needs no network and rebuilds only what changed.
SITE_STAMP   := $(VENV)/.installed-site
SITE_ASSETS  := build/site-assets/.installed
$(SITE_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,site]'
	@touch $(SITE_STAMP)

$(SITE_ASSETS): site/web-assets.json
	$(PY) scripts/build_site.py assets

site-deps: $(SITE_STAMP) $(SITE_ASSETS)

site: site-deps
	$(PY) scripts/build_site.py

clean-venv:
	rm -rf $(VENV)
