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

# -- sweeps and reports ----------------------------------------------------------------------------
STAMP     := $(shell date +%Y-%m-%d_%H-%M-%S)
SWEEP_DIR := $(RUNS)/sweep-demo/$(STAMP)

.PHONY: report sweep-demo tune-demo

report:  ## markdown table of every run under RUNS (make report RUNS=runs/multirun/<time>)
	$(BIN)/minimax report $(RUNS)

sweep-demo:  ## 12 small runs (g1 g2 g3 x gda tgda x 2 seeds) on 2 local processes, then their table, CSV and curves
	$(BIN)/minimax train -m game=g1,g2,g3 algo=gda,tgda seed=0,1 game.starts=4 game.init_radius=1 steps=300 \
	    plot=false tensorboard=false hydra/launcher=parallel hydra.launcher.n_jobs=2 hydra.sweep.dir=$(SWEEP_DIR)
	$(BIN)/minimax report $(SWEEP_DIR) --csv $(SWEEP_DIR)/report.csv --markdown $(SWEEP_DIR)/report.md \
	    --plot $(SWEEP_DIR)/report.png

tune-demo:  ## optuna (TPE, 20 trials) tunes tau-GDA's lr_x and tau on g1; best in <sweep dir>/optimization_results.yaml
	$(BIN)/minimax train -m hparams_search=toy_tgda hydra.sweep.dir=$(SWEEP_DIR)
	$(BIN)/minimax report $(SWEEP_DIR) --by algo.lr_x,algo.tau --metric dist_to_eq

# -- theory (issue 4) ----------------------------------------------------------------------------
.PHONY: reproduce-dirac reproduce-dirac-quick

reproduce-dirac:  ## seed 003 Fig. 1: Dirac-GAN tau-GDA, tau in {1,4,8,16} x mu in {0.3,1}, 4000 steps -> runs/reproduce/dirac/<time> (table.md, dirac_fig1.png)
	$(BIN)/python scripts/reproduce_dirac.py --out $(RUNS)/reproduce/dirac/$(STAMP)

reproduce-dirac-quick:  ## the CI variant of reproduce-dirac: tau in {8,16}, mu = 0.3, 1000 steps
	$(BIN)/python scripts/reproduce_dirac.py --quick --out $(RUNS)/reproduce/dirac-quick/$(STAMP)

.PHONY: reproduce-bilinear reproduce-bilinear-quick reproduce-covariance reproduce-covariance-quick \
        reproduce-lead-quadratic reproduce-lead-quadratic-quick

reproduce-bilinear:  ## seed 004 Fig. 1: SGA(gda)/OMD/PM/IU/CO at theorem step sizes on theta'C omega (C_seed 0, eps 1e-6; ~45 min CPU) -> runs/reproduce/bilinear/<time>
	$(BIN)/python scripts/reproduce_bilinear.py --out $(RUNS)/reproduce/bilinear/$(STAMP)

reproduce-bilinear-quick:  ## CI variant of reproduce-bilinear: C_seed 2568 (kappa 28), eps 1e-2, 2 starts (~1 min)
	$(BIN)/python scripts/reproduce_bilinear.py --quick --out $(RUNS)/reproduce/bilinear-quick/$(STAMP)

reproduce-covariance:  ## seed 004 Fig. 2 top: |Sigma - VV'|_F after 1e5 iterations, 16 seeds, 7 methods (~2.5 h on one core) -> runs/reproduce/covariance/<time>
	$(BIN)/python scripts/reproduce_covariance.py --out $(RUNS)/reproduce/covariance/$(STAMP)

reproduce-covariance-quick:  ## CI variant of reproduce-covariance: 600 iterations, GDA/OMD/PM/IU/CO (~1 min)
	$(BIN)/python scripts/reproduce_covariance.py --quick --out $(RUNS)/reproduce/covariance-quick/$(STAMP)

reproduce-lead-quadratic:  ## seed 002 §3-4: spectral radius of LEAD vs GDA/EG/OGDA/momentum over eta, h in {0,.1,.5,1,2}, runs at the best eta -> runs/reproduce/lead-quadratic/<time>
	$(BIN)/python scripts/reproduce_lead_quadratic.py --out $(RUNS)/reproduce/lead-quadratic/$(STAMP)

reproduce-lead-quadratic-quick:  ## CI variant of reproduce-lead-quadratic: h in {0, 2}, coarse grids (~1 min)
	$(BIN)/python scripts/reproduce_lead_quadratic.py --quick --out $(RUNS)/reproduce/lead-quadratic-quick/$(STAMP)
