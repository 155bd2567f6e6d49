# minimax — set-up, tests, benchmarks and paper reproductions.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNS   ?= $(or $(MINIMAX_RUNS),runs)

.PHONY: install test test-fast bench reproduce-toy help
SEEDS_BENCH_ARGS ?=

help:  ## list targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

install:  ## create .venv and install minimax (editable) + test tools and the MLflow / W&B trackers, exactly the tested set (constraints.txt)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -e '.[test,sweep,mlflow,wandb]' -c constraints.txt

test:  ## run the whole test suite (slow end-to-end tests included)
	$(BIN)/python -m pytest -q -n auto

test-fast:  ## unit tests only
	$(BIN)/python -m pytest -q -n auto -m 'not slow'

bench:  ## the speed targets in one table, then each benchmark's own, then the vectorized-seeds rows (BENCH_ARGS="--readme docs/benchmarks.md" rewrites the table there; SEEDS_BENCH_ARGS="--device cuda" for the seeds rows on a GPU)
	$(BIN)/python -m scripts.bench --details $(BENCH_ARGS)
	$(BIN)/python -m scripts.bench_seeds $(SEEDS_BENCH_ARGS)

# Every reproduction: minimax reproduce NAME (--list: papers and costs); outputs in $(RUNS)/reproduce/NAME[-quick]/<time>/.
# REPRO_ARGS="--only A,B", "--out DIR" (continue an interrupted one), "hydra/launcher=parallel" ... go to minimax reproduce.
REPRO := MINIMAX_RUNS=$(RUNS) $(BIN)/minimax reproduce
REPRO_ARGS ?=

reproduce-toy:  ## Wang et al. 2020 Fig. 3 / Gao et al. 2022 Fig. 1: 8 algorithms on g1, g2, g3 (~1 min)
	$(REPRO) toy $(REPRO_ARGS)

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

# -- theory ----------------------------------------------------------------------------------------
.PHONY: reproduce-dirac reproduce-dirac-quick

reproduce-dirac:  ## Fiez & Ratliff 2021 Fig. 1: Dirac-GAN tau-GDA, tau in {1,4,8,16} x mu in {0.3,1}, 4000 steps (~1 min)
	$(REPRO) dirac $(REPRO_ARGS)

reproduce-dirac-quick:  ## CI variant of reproduce-dirac: tau in {8,16}, mu = 0.3, 1000 steps
	$(REPRO) dirac --quick $(REPRO_ARGS)

.PHONY: reproduce-tau-poly reproduce-tau-poly-quick

reproduce-tau-poly:  ## Fiez & Ratliff 2021 App. K.2-K.3: tau-GDA on the polynomial games, the stable tau range, endpoints vs tau (~30 min)
	$(REPRO) tau-poly $(REPRO_ARGS)

reproduce-tau-poly-quick:  ## CI variant of reproduce-tau-poly: K.2 at 3 tau, K.3's tau = 2 run, a coarse tau sweep
	$(REPRO) tau-poly --quick $(REPRO_ARGS)

.PHONY: reproduce-tau-covariance reproduce-tau-covariance-quick

reproduce-tau-covariance:  ## Fiez & Ratliff 2021 App. K.6: covariance learning, tau in {1,5,10,25} x mu in {0.5,0.75,1}, d = 1 (and 5, 10, 20)
	$(REPRO) tau-covariance $(REPRO_ARGS)

reproduce-tau-covariance-quick:  ## CI variant of reproduce-tau-covariance: tau = 25, mu in {0.75, 1}, 1,000 steps
	$(REPRO) tau-covariance --quick $(REPRO_ARGS)

.PHONY: reproduce-tau-torus reproduce-tau-torus-quick

reproduce-tau-torus:  ## Fiez & Ratliff 2021 App. K.4: torus trajectories (200,000 steps) and regions of attraction (~15 min)
	$(REPRO) tau-torus $(REPRO_ARGS)

reproduce-tau-torus-quick:  ## CI variant of reproduce-tau-torus: tau in {2, 5}, lr 0.04, 5,000 steps, no grid
	$(REPRO) tau-torus --quick $(REPRO_ARGS)

.PHONY: reproduce-tau-mog reproduce-tau-mog-quick

reproduce-tau-mog:  ## Fiez & Ratliff 2021 App. K.7.1 Fig. 12: tau-GDA on 8 Gaussians, 6 tau x 2 mu x 50 seeds x 60k updates (GPU: REPRO_ARGS=hardware=cuda)
	$(REPRO) tau-mog $(REPRO_ARGS)

reproduce-tau-mog-quick:  ## CI variant of reproduce-tau-mog: tau in {8, 32}, mu = 0.1, 2 seeds, 200 updates
	$(REPRO) tau-mog --quick $(REPRO_ARGS)

.PHONY: reproduce-bilinear reproduce-bilinear-quick reproduce-covariance reproduce-covariance-quick \
        reproduce-lead-quadratic reproduce-lead-quadratic-quick

reproduce-bilinear:  ## Liang & Stokes 2019 Fig. 1: SGA(gda)/OMD/PM/IU/CO at theorem step sizes on theta'C omega (~30 min CPU)
	$(REPRO) bilinear $(REPRO_ARGS)

reproduce-bilinear-quick:  ## CI variant of reproduce-bilinear: C_seed 2568 (kappa 28), eps 1e-2, 2 starts (~1 min)
	$(REPRO) bilinear --quick $(REPRO_ARGS)

reproduce-covariance:  ## Liang & Stokes 2019 Fig. 2 top: |Sigma - VV'|_F after 1e5 iterations, 16 seeds, 7 methods (~1 h on an idle core)
	$(REPRO) covariance $(REPRO_ARGS)

reproduce-covariance-quick:  ## CI variant of reproduce-covariance: 600 iterations, GDA/OMD/PM/IU/CO (~1 min)
	$(REPRO) covariance --quick $(REPRO_ARGS)

reproduce-lead-quadratic:  ## Askari Hemmat et al. 2023 §3-4: spectral radius of LEAD vs GDA/EG/OGDA/momentum over eta, runs at the best eta
	$(REPRO) lead-quadratic $(REPRO_ARGS)

reproduce-lead-quadratic-quick:  ## CI variant of reproduce-lead-quadratic: h in {0, 2}, coarse grids (~1 min)
	$(REPRO) lead-quadratic --quick $(REPRO_ARGS)

.PHONY: reproduce-lead-games reproduce-lead-games-quick
reproduce-lead-games:  ## Askari Hemmat et al. 2023 Fig. 3: tuned spectral radius vs gamma_max on the game of Eq. 31 (~15 min)
	$(REPRO) lead-games $(REPRO_ARGS)

reproduce-lead-games-quick:  ## CI variant of reproduce-lead-games: gamma_max in {0, 1}, coarse tuning (~1 min)
	$(REPRO) lead-games --quick $(REPRO_ARGS)

# -- multi-process / cluster --------------------------------------------------------------------------
.PHONY: ddp-check drill

ddp-check:  ## 2 gloo processes on half batches vs 1 process (GDA, FR-CG, HessianFR-DG, LEAD): prints max abs/rel differences
	$(BIN)/python -m pytest -q -p no:xdist -s tests/test_distributed.py -k two_processes

drill:  ## fault drill (bad input, full disk, signals, tampered run dirs: table of clean lines / tracebacks / runs lost), then the 12-run kill-and-resume sweep
	$(BIN)/python -m scripts.fault_drill
	$(BIN)/python -m pytest -q -p no:xdist -s tests/test_drill.py -k reliability

# -- image GANs ------------------------------------------------------------------------------------
# The reproductions need a GPU, the datasets under $MINIMAX_DATA (or ./data) and the FID Inception weights
# in the torch hub cache (docs/image-gans.md). REPRO_ARGS="--out DIR" continues an interrupted call (keeps
# finished runs), "--only mnist_cnn" runs a subset, "--reanalyze DIR" rebuilds the table.
.PHONY: reproduce-hessianfr-table1 reproduce-lead-cifar reproduce-tau-images bench-images \
        reproduce-hessianfr-table1-smoke reproduce-lead-cifar-smoke reproduce-tau-images-smoke \
        reproduce-fr-mnist reproduce-fr-mnist-smoke
HARDWARE ?= hardware=cuda

reproduce-hessianfr-table1:  ## Gao et al. 2022 Table 1 (GPU): 4 settings x GDA-5/EG/FR-DG/FR-CG1/HessianFR-DG/CG1(/CG5), FID + time/100 it
	$(REPRO) hessianfr-table1 $(REPRO_ARGS) $(HARDWARE)

reproduce-lead-cifar:  ## Askari Hemmat et al. 2023 Table 1 (GPU): CIFAR-10 DCGAN Adam vs LEAD-Adam, ResNet SNGAN vs LEAD-Adam, 5 seeds, FID + IS
	$(REPRO) lead-cifar $(REPRO_ARGS) $(HARDWARE)

reproduce-tau-images:  ## Fiez & Ratliff 2021 Figs. 2-3 (GPU): tau-GDA FID vs tau in {1,2,4,8(,16)}, mu in {10,1}, CIFAR-10 and CelebA, 3 seeds
	$(REPRO) tau-images $(REPRO_ARGS) $(HARDWARE)

reproduce-fr-mnist:  ## Wang et al. 2020 Fig. 8 (GPU): GDA vs FR on MNIST 0/1, samples and gradient norms, 100k iterations
	$(REPRO) fr-mnist $(REPRO_ARGS) $(HARDWARE)

reproduce-fr-mnist-smoke:  ## CPU smoke of reproduce-fr-mnist: tiny nets, fake data, 60 steps (CI)
	$(REPRO) fr-mnist --quick $(REPRO_ARGS)

reproduce-hessianfr-table1-smoke:  ## CPU smoke of reproduce-hessianfr-table1: tiny nets, fake data, untrained Inception, 2 steps (CI)
	$(REPRO) hessianfr-table1 --quick $(REPRO_ARGS)

reproduce-lead-cifar-smoke:  ## CPU smoke of reproduce-lead-cifar (CI)
	$(REPRO) lead-cifar --quick $(REPRO_ARGS)

reproduce-tau-images-smoke:  ## CPU smoke of reproduce-tau-images (CI)
	$(REPRO) tau-images --quick $(REPRO_ARGS)

bench-images:  ## it/s and peak memory per algorithm on a CIFAR-shaped DCGAN (synthetic data) as ratios to GDA-5; CPU: make bench-images BENCH_ARGS="--device cpu --width 16"
	$(BIN)/python -m scripts.bench_images --device auto $(BENCH_ARGS) --markdown $(RUNS)/bench/images.md

# -- GANs on synthetic data ---------------------------------------------------------------------------
# Full targets run the papers' budgets on one CPU thread per process (hours: minimax reproduce --list); *-quick
# are the CI variants (about a minute each). Outputs: $(RUNS)/reproduce/<name>/<time>/ (table.md, rows.json, PNGs).
.PHONY: reproduce-fr-mog reproduce-hessianfr-mog reproduce-lead-8g reproduce-ls-mog \
        reproduce-fr-mog-quick reproduce-hessianfr-mog-quick reproduce-lead-8g-quick reproduce-ls-mog-quick

reproduce-fr-mog:  ## Wang et al. 2020 Figs. 4, 11, 5: GDA/EG/CO/FR on 1-D MoG (+ momentum, 2-D grid), 50k iterations
	$(REPRO) fr-mog $(REPRO_ARGS)

reproduce-hessianfr-mog:  ## Gao et al. 2022 Figs. 2-5: HessianFR-CG/DG, FR, GDN, GDA, GDA-2, EG vs iterations and seconds
	$(REPRO) hessianfr-mog $(REPRO_ARGS)

reproduce-lead-8g:  ## Askari Hemmat et al. 2023 Fig. 6: LEAD-Adam vs Adam on 8 Gaussians (3x2000 ReLU nets, 10k iterations, 4 seeds)
	$(REPRO) lead-8g $(REPRO_ARGS)

reproduce-ls-mog:  ## Liang & Stokes 2019 Figs. 2-3: W1 over 16 seeds for SGA/OMD/PM/IU/CO (WGAN-GP, eta 1e-3, 50k iterations)
	$(REPRO) ls-mog $(REPRO_ARGS)

reproduce-fr-mog-quick:  ## CI variant of reproduce-fr-mog
	$(REPRO) fr-mog --quick $(REPRO_ARGS)

reproduce-hessianfr-mog-quick:  ## CI variant of reproduce-hessianfr-mog
	$(REPRO) hessianfr-mog --quick $(REPRO_ARGS)

reproduce-lead-8g-quick:  ## CI variant of reproduce-lead-8g
	$(REPRO) lead-8g --quick $(REPRO_ARGS)

reproduce-ls-mog-quick:  ## CI variant of reproduce-ls-mog
	$(REPRO) ls-mog --quick $(REPRO_ARGS)

.PHONY: reproduce-lead-cost reproduce-lead-cost-quick

reproduce-lead-cost:  ## Askari Hemmat et al. 2023 Fig. 2: time per iteration vs width, CGD/SGA/CO/Extra-Adam/WGAN-GP/LEAD (REPRO_ARGS=hardware=cuda: the paper's widths)
	$(REPRO) lead-cost $(REPRO_ARGS)

reproduce-lead-cost-quick:  ## CI variant of reproduce-lead-cost
	$(REPRO) lead-cost --quick $(REPRO_ARGS)

# -- documentation -----------------------------------------------------------------------------------
.PHONY: docs

docs:  ## build the documentation site (docs/ -> site/) with MkDocs; --strict: a broken link, anchor or nav entry fails
	$(BIN)/python -m mkdocs build --strict
