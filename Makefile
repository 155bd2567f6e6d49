# minimax — set-up, tests, benchmarks and paper reproductions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNS   ?= runs

.PHONY: install test test-fast bench reproduce-toy help

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
	$(BIN)/python scripts/bench_algorithms.py --game g3

reproduce-toy:  ## seed 000 Fig. 3 / seed 001 Fig. 1: 8 algorithms on g1, g2, g3 -> runs/reproduce/toy/<time>/
	$(BIN)/python scripts/reproduce_toy.py
