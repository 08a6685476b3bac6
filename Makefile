# Top-level build. `make` builds everything; `make test` builds and tests;
# `make run` builds and runs the main job (zdtm static/env00).
#
# Each component adds its own rules in <component>/<component>.mk and
# appends its build products to BUILD and its junk to CLEAN.

PYTHON  ?= python3.11
VENV    := .venv
PY      := $(VENV)/bin/python
PYTEST  := $(PY) -m pytest
STAMP_VENV := $(VENV)/.stamp-installed
STAMP_APT  := .stamp-apt

BUILD :=
CLEAN :=

.PHONY: all deps venv test test-unit test-root test-zdtm lint run clean bench
all: build

# Debian packages this project needs (only those missing are installed).
deps: $(STAMP_APT)
$(STAMP_APT): scripts/install-deps.sh
	scripts/install-deps.sh
	touch $@

venv: $(STAMP_VENV)
$(STAMP_VENV): pyproject.toml $(STAMP_APT)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

include images/images.mk
include compel/compel.mk
include criu/criu.mk
include zdtm/zdtm.mk

# Byte-compiled modules, made here because criu may run where Python does
# not write them itself (PYTHONDONTWRITEBYTECODE; a read-only tree): every
# criu command and every task a restore forks would compile its imports
# from source again.  Not committed; refreshed whenever a source changed.
PY_SRC := $(shell find criu compel images soccr -name '*.py' 2>/dev/null)
STAMP_PYC := .stamp-pyc
$(STAMP_PYC): $(PY_SRC) $(PROTO_STAMP) $(STAMP_VENV)
	$(PY) -m compileall -q criu compel images soccr
	touch $@
BUILD += $(STAMP_PYC)

build: $(STAMP_VENV) $(BUILD)

test: build lint test-unit test-root test-zdtm

# Tests needing no root: image codecs on golden data, pure-Python logic.
test-unit: build
	$(PYTEST) -q -n auto tests/unit

# The type check (settings in pyproject.toml's [tool.mypy]), over the
# packages, the ZDTM runner and the scripts.  Needs only the venv.
lint: $(STAMP_VENV)
	$(PY) -m mypy criu compel images soccr zdtm.py scripts

# Tests that run real processes as root (ptrace, TCP repair, namespaces).
# A hung ptrace test must fail the run, not stall CI: the whole stage is
# bounded (it takes about a minute on 2 cores).
ROOT_TESTS_TIMEOUT ?= 900
test-root: build
	timeout --kill-after=30 $(ROOT_TESTS_TIMEOUT) $(PYTEST) -q -n 2 tests/root

# The ZDTM corpus through the runner, like a user would: first with --nocr
# (each test must pass on its own, so a later failure is criu's), then
# checkpointed and restored.
ZDTM_FLAGS ?=
test-zdtm: build
	$(PY) zdtm.py run -a --nocr --keep-going -p 2 --keep-img never
	$(PY) zdtm.py run -a --keep-going $(ZDTM_FLAGS)

run: build
	$(PY) zdtm.py run -t static/env00

bench: build
	$(PY) scripts/bench.py

clean:
	rm -rf $(CLEAN) build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
