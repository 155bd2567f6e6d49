# minimax — set-up, tests, benchmarks and paper reproductions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNS   ?= runs

.PHONY: install test test-fast bench reproduce-toy help
SEEDS_BENCH_ARGS ?=

help:  ## list targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

install:  ## create .venv and install minimax (editable) + test tools, exactly the tested set (constraints.txt)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -e '.[test,sweep]' -c constraints.txt

test:  ## run the whole test suite (slow end-to-end tests included)
	$(BIN)/python -m pytest -q -n auto

test-fast:  ## unit tests only
	$(BIN)/python -m pytest -q -n auto -m 'not slow'

bench:  ## issue 15's speed targets in one table, then each benchmark's own, then issue 16's seeds rows (BENCH_ARGS="--readme README.md" rewrites README's table; SEEDS_BENCH_ARGS="--device cuda" for the seeds rows on a GPU)
	$(BIN)/python scripts/bench.py --details $(BENCH_ARGS)
	$(BIN)/python scripts/bench_seeds.py $(SEEDS_BENCH_ARGS)

reproduce-toy:  ## seed 000 Fig. 3 / seed 001 Fig. 1: 8 algorithms on g1, g2, g3 -> runs/reproduce/toy/<time>/
	$(BIN)/python scripts/reproduce_toy.py --out $(RUNS)/reproduce/toy/$(STAMP)

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

reproduce-bilinear:  ## seed 004 Fig. 1: SGA(gda)/OMD/PM/IU/CO at theorem step sizes on theta'C omega (C_seed 0, eps 1e-6; ~30 min CPU) -> runs/reproduce/bilinear/<time>
	$(BIN)/python scripts/reproduce_bilinear.py --out $(RUNS)/reproduce/bilinear/$(STAMP)

reproduce-bilinear-quick:  ## CI variant of reproduce-bilinear: C_seed 2568 (kappa 28), eps 1e-2, 2 starts (~1 min)
	$(BIN)/python scripts/reproduce_bilinear.py --quick --out $(RUNS)/reproduce/bilinear-quick/$(STAMP)

reproduce-covariance:  ## seed 004 Fig. 2 top: |Sigma - VV'|_F after 1e5 iterations, 16 seeds, 7 methods (~1 h on an idle core) -> runs/reproduce/covariance/<time>
	$(BIN)/python scripts/reproduce_covariance.py --out $(RUNS)/reproduce/covariance/$(STAMP)

reproduce-covariance-quick:  ## CI variant of reproduce-covariance: 600 iterations, GDA/OMD/PM/IU/CO (~1 min)
	$(BIN)/python scripts/reproduce_covariance.py --quick --out $(RUNS)/reproduce/covariance-quick/$(STAMP)

reproduce-lead-quadratic:  ## seed 002 §3-4: spectral radius of LEAD vs GDA/EG/OGDA/momentum over eta, h in {0,.1,.5,1,2}, runs at the best eta -> runs/reproduce/lead-quadratic/<time>
	$(BIN)/python scripts/reproduce_lead_quadratic.py --out $(RUNS)/reproduce/lead-quadratic/$(STAMP)

reproduce-lead-quadratic-quick:  ## CI variant of reproduce-lead-quadratic: h in {0, 2}, coarse grids (~1 min)
	$(BIN)/python scripts/reproduce_lead_quadratic.py --quick --out $(RUNS)/reproduce/lead-quadratic-quick/$(STAMP)

# -- multi-process / cluster (issue 7) ---------------------------------------------------------------
.PHONY: ddp-check drill

ddp-check:  ## 2 gloo processes on half batches vs 1 process (GDA, FR-CG, HessianFR-DG, LEAD): prints max abs/rel differences
	$(BIN)/python -m pytest -q -p no:xdist -s tests/test_distributed.py -k two_processes

drill:  ## fault drill (bad input, full disk, signals, tampered run dirs: table of clean lines / tracebacks / runs lost), then the 12-run kill-and-resume sweep
	$(BIN)/python scripts/fault_drill.py
	$(BIN)/python -m pytest -q -p no:xdist -s tests/test_drill.py -k reliability

# -- image GANs (issue 6) ----------------------------------------------------------------------------
# The reproductions need a GPU, the datasets under $MINIMAX_DATA (or ./data) and the FID Inception weights
# in the torch hub cache (README: Image GANs). Calling a target again resumes / keeps finished runs;
# REPRO_ARGS="--only mnist_cnn" runs a subset, "--table-only" rebuilds the table, "--seeds N" changes seeds.
.PHONY: reproduce-hessianfr-table1 reproduce-lead-cifar reproduce-tau-images bench-images \
        reproduce-hessianfr-table1-smoke reproduce-lead-cifar-smoke reproduce-tau-images-smoke
HARDWARE ?= hardware=cuda
REPRO_ARGS ?=

reproduce-hessianfr-table1:  ## seed 001 Table 1 (GPU): 4 settings x GDA-5/EG/FR-DG/FR-CG1/HessianFR-DG/CG1(/CG5), FID + time/100 it -> runs/reproduce/hessianfr-table1/table.md
	$(BIN)/python scripts/reproduce_images.py hessianfr-table1 $(REPRO_ARGS) -- $(HARDWARE)

reproduce-lead-cifar:  ## seed 002 Table 1 (GPU): CIFAR-10 DCGAN Adam vs LEAD-Adam, ResNet SNGAN vs LEAD-Adam, 5 seeds, FID + IS -> runs/reproduce/lead-cifar/table.md
	$(BIN)/python scripts/reproduce_images.py lead-cifar $(REPRO_ARGS) -- $(HARDWARE)

reproduce-tau-images:  ## seed 003 Figs. 2-3 (GPU): tau-GDA FID vs tau in {1,2,4,8(,16)}, mu in {10,1}, CIFAR-10 and CelebA, 3 seeds -> runs/reproduce/tau-images/
	$(BIN)/python scripts/reproduce_images.py tau-images $(REPRO_ARGS) -- $(HARDWARE)

reproduce-hessianfr-table1-smoke:  ## CPU smoke of reproduce-hessianfr-table1: tiny nets, fake data, untrained Inception, 2 steps (CI)
	$(BIN)/python scripts/reproduce_images.py hessianfr-table1 --smoke

reproduce-lead-cifar-smoke:  ## CPU smoke of reproduce-lead-cifar (CI)
	$(BIN)/python scripts/reproduce_images.py lead-cifar --smoke

reproduce-tau-images-smoke:  ## CPU smoke of reproduce-tau-images (CI)
	$(BIN)/python scripts/reproduce_images.py tau-images --smoke

bench-images:  ## it/s and peak memory per algorithm on a CIFAR-shaped DCGAN (synthetic data) as ratios to GDA-5; CPU: make bench-images BENCH_ARGS="--device cpu --width 16"
	$(BIN)/python scripts/bench_images.py --device auto $(BENCH_ARGS) --markdown $(RUNS)/bench/images.md

# -- GANs on synthetic data (issue 5) -------------------------------------------------------------------
# Full targets run the papers' budgets on one CPU thread per process (hours, see README); *-quick are the
# CI variants (about a minute each). Outputs: runs/reproduce/<name>/<time>/ (table.md, rows.json, PNGs).
.PHONY: reproduce-fr-mog reproduce-hessianfr-mog reproduce-lead-8g reproduce-ls-mog \
        reproduce-fr-mog-quick reproduce-hessianfr-mog-quick reproduce-lead-8g-quick reproduce-ls-mog-quick

reproduce-fr-mog:  ## seed 000 Figs. 4, 11, 5: GDA/EG/CO/FR on 1-D MoG (+ momentum, 2-D grid), 50k iterations
	$(BIN)/python scripts/reproduce_fr_mog.py

reproduce-hessianfr-mog:  ## seed 001 Figs. 2-5: HessianFR-CG/DG, FR, GDN, GDA, GDA-2, EG vs iterations and seconds
	$(BIN)/python scripts/reproduce_hessianfr_mog.py

reproduce-lead-8g:  ## seed 002 Fig. 6: LEAD-Adam vs Adam on 8 Gaussians (3x2000 ReLU nets, 10k iterations, 4 seeds)
	$(BIN)/python scripts/reproduce_lead_8g.py

reproduce-ls-mog:  ## seed 004 Figs. 2-3: W1 over 16 seeds for SGA/OMD/PM/IU/CO (WGAN-GP, eta 1e-3, 50k iterations)
	$(BIN)/python scripts/reproduce_ls_mog.py

reproduce-fr-mog-quick:  ## CI variant of reproduce-fr-mog
	$(BIN)/python scripts/reproduce_fr_mog.py --quick

reproduce-hessianfr-mog-quick:  ## CI variant of reproduce-hessianfr-mog
	$(BIN)/python scripts/reproduce_hessianfr_mog.py --quick

reproduce-lead-8g-quick:  ## CI variant of reproduce-lead-8g
	$(BIN)/python scripts/reproduce_lead_8g.py --quick

reproduce-ls-mog-quick:  ## CI variant of reproduce-ls-mog
	$(BIN)/python scripts/reproduce_ls_mog.py --quick

# -- documentation -----------------------------------------------------------------------------------
.PHONY: docs

docs:  ## build the documentation site (docs/ -> site/) with MkDocs; --strict: a broken link, anchor or nav entry fails
	$(BIN)/python -m mkdocs build --strict
