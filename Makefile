# minimax — set-up, tests, benchmarks and paper reproductions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNS   ?= runs

.PHONY: install test test-fast bench clean-runs help

help:  ## list targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

install:  ## create .venv and install minimax (editable) with pinned torch/torchvision and test tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -e '.[test,sweep]'

test:  ## run the whole test suite (slow end-to-end tests included)
	$(BIN)/python -m pytest -q -n auto

test-fast:  ## unit tests only
	$(BIN)/python -m pytest -q -n auto -m 'not slow'

bench:  ## benchmarks (ratios against GDA measured in the same run)
	$(BIN)/python scripts/bench_starts.py

# -- theory (issue 4) ----------------------------------------------------------------------------
.PHONY: reproduce-dirac reproduce-dirac-quick

reproduce-dirac:  ## seed 003 Fig. 1: Dirac-GAN tau-GDA, tau in {1,4,8,16} x mu in {0.3,1}, 4000 steps -> runs/reproduce/dirac (table.md, dirac_fig1.png)
	$(BIN)/python scripts/reproduce_dirac.py --out $(RUNS)/reproduce/dirac

reproduce-dirac-quick:  ## the CI variant of reproduce-dirac: tau in {8,16}, mu = 0.3, 1000 steps
	$(BIN)/python scripts/reproduce_dirac.py --quick --out $(RUNS)/reproduce/dirac-quick
