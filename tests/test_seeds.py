"""S seeds of a neural game in one vectorized run (``seeds=S``) are the S separate runs
``seed=s``, …, ``seed=s+S-1``: same iterates (float64), same rows, same per-seed status."""

import json

import pytest
import torch

from minimax_cli.algos.cgd import ACGD, CGD
from minimax_cli.algos.complex_momentum import ComplexMomentum
from minimax_cli.algos.consensus import SGA, ConsensusOptimization
from minimax_cli.algos.extra_adam import ExtraAdam
from minimax_cli.algos.extragradient import OGDA, Extrapolation
from minimax_cli.algos.gda import GDA
from minimax_cli.algos.implicit import ImplicitUpdate
from minimax_cli.algos.lead import LEAD
from minimax_cli.algos.ridge import FollowTheRidge
from minimax_cli.games.gan import GAN
from minimax_cli.games.seeds import SeedStack
from minimax_cli.runner import CONVERGED, DIVERGED, RUNNING, LoopSettings, Runner
from tests.conftest import load_metrics, load_summary, make_game, rows_without_time, run_dirs

SEEDS = [3, 4, 5]
#: a small WGAN-GP (third derivatives in SGA/CO/FR), fresh batches and latents: every stream is per seed
WGAN = {"data": "ring8", "generator": {"latent": 2, "depth": 1, "width": 6, "activation": "tanh", "init": "torch_default"},
        "discriminator": {"depth": 1, "width": 5, "activation": "tanh", "init": "torch_default"},
        "loss": {"kind": "wgan", "l2": 0.0, "gp": 1.0}, "batch": {"mode": "fresh", "size": 24, "eval_size": 32},
        "metrics": {"w1_samples": 32, "kl_samples": 64, "mode_samples": 64}}
#: Wang et al. 2020's saturating loss with the L2 penalty, fixed minibatches drawn from a fixed dataset
SATURATING = {"data": "mog1d", "generator": {"latent": 3, "depth": 1, "width": 5, "activation": "tanh"},
              "discriminator": {"depth": 1, "width": 6, "activation": "tanh"},
              "loss": {"kind": "saturating", "l2": 1e-3}, "batch": {"mode": "fixed", "dataset_size": 40, "size": 24},
              "metrics": {"w1_samples": 32, "kl_samples": 64, "mode_samples": 64}}


def gan(seed, spec):
    return make_game(GAN, name="mog", seed=seed, **spec)


def stacked(spec, seeds=SEEDS):
    return SeedStack([gan(s, spec) for s in seeds], seeds)


def run(game, algo, steps=6, **kw):
    kw = {"log_every": 3, "tol": 0.0, "progress": False, **kw}
    return Runner(game, algo, LoopSettings(steps=steps, **kw)).run()


ALGOS = [
    ("gda", lambda: GDA(lr_x=0.05, lr_y=0.05), WGAN),
    ("gda2_alt_adam", lambda: GDA(lr_x=0.01, lr_y=0.02, order="alternating", precond="adam", follower_steps=2),
     SATURATING),
    ("sga", lambda: SGA("sga", lr_x=0.05, lr_y=0.05), WGAN),
    ("ogda", lambda: OGDA("ogda", lr_x=0.05, lr_y=0.05), WGAN),
    ("co_value", lambda: ConsensusOptimization("co", lr_x=0.05, lr_y=0.05, gamma=1.0, penalty="half_squared_norm",
                                               consensus_on="value"), WGAN),
    ("pm", lambda: Extrapolation("pm", lr_x=0.05, lr_y=0.05, lookahead=0.01, precond="rmsprop"), SATURATING),
    ("iu_fixed_point", lambda: ImplicitUpdate("iu", lr_x=0.05, lr_y=0.05, inner="fixed_point", inner_steps=3), WGAN),
    ("lead", lambda: LEAD("lead", lr_x=0.05, lr_y=0.05, alpha=0.1, momentum=0.3), SATURATING),
    ("extra_adam", lambda: ExtraAdam(lr_x=0.01, lr_y=0.02), WGAN),   # two batches per step
    ("cm_alt", lambda: ComplexMomentum(lr_x=0.05, lr_y=0.05, beta_arg=1.0, order="alternating"), SATURATING),
    ("fr_cg_adaptive_fd", lambda: FollowTheRidge("fr", lr_x=0.05, lr_y=0.05, mixed="fd", precond="rmsprop",
                                                 solver={"kind": "cg", "iters": 3, "damping": 1.0, "adaptive": True,
                                                         "tol": 1e-6}), SATURATING),
    ("hessianfr_cg_jvp", lambda: FollowTheRidge("hfr", lr_x=0.05, lr_y=0.05, lr_y2=0.05,
                                                solver={"kind": "cg", "iters": 2, "damping": 0.5}), WGAN),
    ("hessianfr_dg", lambda: FollowTheRidge("hfr_dg", lr_x=0.05, lr_y=0.05, lr_y2=0.05, mixed="fd",
                                            solver={"kind": "diag"}), SATURATING),
    # CGD on the penalized game (the follower's L2 in its own gradient), ACGD on the zero-sum WGAN; CG
    # capped below convergence, so every seed takes the same CG steps (a stacked run counts its slowest seed's)
    ("cgd", lambda: CGD("cgd", lr_x=0.05, lr_y=0.05, cg={"max_iters": 3}), SATURATING),
    ("acgd", lambda: ACGD("acgd", lr_x=0.01, lr_y=0.01, cg={"max_iters": 3}),
     {**WGAN, "loss": {"kind": "wgan", "l2": 0.0, "gp": 0.0}}),
]


@pytest.mark.parametrize("name, make, spec", ALGOS, ids=[a[0] for a in ALGOS])
def test_seeds_in_one_run_equal_separate_runs(name, make, spec):
    many = run(stacked(spec), make())
    assert many.seeds == SEEDS and many.n_starts == len(SEEDS)
    for k, seed in enumerate(SEEDS):
        one = run(gan(seed, spec), make())
        for key in ("x", "y"):
            torch.testing.assert_close(many.state[key][k], one.state[key], rtol=1e-10, atol=1e-12)
        assert many.seed_metrics[k].keys() == one.metrics.keys()
        for key, value in one.metrics.items():
            assert many.seed_metrics[k][key] == pytest.approx(value, rel=1e-8, abs=1e-12), key
    # the seeds did differ: own initialization and data
    assert not torch.allclose(many.state["x"][0], many.state["x"][1])


def test_one_seed_that_diverges_is_frozen_and_the_others_go_on():
    spec, make = WGAN, lambda: GDA(lr_x=0.05, lr_y=0.05)
    game = stacked(spec)
    x0, y0 = game.initial_points()
    y0[1] *= 1e4       # seed 4 starts beyond diverge_norm: it diverges at its first step
    runner = Runner(game, make(), LoopSettings(steps=6, log_every=3, tol=0.0, progress=False, diverge_norm=1e3))
    many = runner.run(initial_state=runner.init_state(x0, y0))
    assert many.start_status.tolist() == [RUNNING, DIVERGED, RUNNING]
    assert many.stop_step.tolist() == [-1, 1, -1]
    assert many.last_row.tolist() == [6, 3, 6]   # the diverged seed's rows end at the next check step
    assert many.status == "finished" and many.fractions()["fraction_diverged"] == pytest.approx(1 / 3)
    torch.testing.assert_close(many.state["y"][1], y0[1])   # frozen at its last finite iterate
    for k in (0, 2):
        one = run(gan(SEEDS[k], spec), make(), diverge_norm=1e3)
        torch.testing.assert_close(many.state["x"][k], one.state["x"], rtol=1e-10, atol=1e-12)


def test_a_seed_that_stops_between_log_steps_gets_its_last_row_at_the_next_check(tmp_path):
    """check_every < log_every: the stopped seed's rows end where its separate run ends (its row at
    the check step), the others keep the log cadence; every row is the separate run's row."""
    from minimax_cli.runlog import RunLog

    make = lambda: FollowTheRidge("fr", lr_x=0.05, lr_y=0.05, solver={"kind": "cg", "iters": 2,  # noqa: E731
                                                                      "damping": 1.0, "adaptive": True})
    kw = dict(steps=6, log_every=3, check_every=2, tol=0.0, progress=False, diverge_norm=1e3)
    game = stacked(WGAN)
    x0, y0 = game.initial_points()
    y0[1] *= 1e4
    log = RunLog(tmp_path / "many", tensorboard=False)
    runner = Runner(game, make(), LoopSettings(log=log, **kw))
    runner.run(initial_state=runner.init_state(x0, y0))
    log.close()
    rows = _rows_by_seed(tmp_path / "many")
    assert [r["step"] for r in rows[4]] == [0, 2] and [r["step"] for r in rows[3]] == [0, 3, 6]
    for k, seed in enumerate(SEEDS):
        one_game = gan(seed, WGAN)
        log = RunLog(tmp_path / str(seed), tensorboard=False)
        one = Runner(one_game, make(), LoopSettings(log=log, **kw))
        one.run(initial_state=one.init_state(x0[k], y0[k]))
        log.close()
        _same_rows(rows[seed], _rows_by_seed(tmp_path / str(seed))[None])


def test_seeds_in_chunks_equal_all_at_once():
    make = lambda: FollowTheRidge("fr", lr_x=0.05, lr_y=0.05, solver={"kind": "cg", "iters": 2, "damping": 1.0})  # noqa: E731
    whole = run(stacked(WGAN), make())
    chunked = run(stacked(WGAN), make(), seed_chunk=2)
    torch.testing.assert_close(chunked.state["x"], whole.state["x"], rtol=1e-12, atol=1e-14)
    for a, b in zip(chunked.seed_metrics, whole.seed_metrics):
        assert a == pytest.approx(b)


def test_a_seed_that_diverged_in_pretraining_stays_stopped_in_the_main_phase():
    game = stacked(WGAN)
    x0, y0 = game.initial_points()
    y0[0] *= 1e4
    pre_runner = Runner(game, GDA(lr_x=0.05, lr_y=0.05), LoopSettings(steps=3, log_every=3, tol=0.0, progress=False,
                        diverge_norm=1e3))
    pre = pre_runner.run(initial_state=pre_runner.init_state(x0, y0))
    assert pre.status == "finished" and pre.start_status.tolist() == [DIVERGED, RUNNING, RUNNING]
    main = Runner(game, SGA("sga", lr_x=0.05, lr_y=0.05), LoopSettings(steps=9, log_every=3, tol=0.0, progress=False,
                  diverge_norm=1e3))
    result = main.run(initial_state=main.init_state(pre.state["x"], pre.state["y"]), start_step=3, finished=pre)
    assert result.start_status.tolist() == [DIVERGED, RUNNING, RUNNING] and result.stop_step[0] == 1
    assert result.last_row.tolist() == [3, 9, 9]                 # its rows ended with the pretraining phase
    torch.testing.assert_close(result.state["y"][0], pre.state["y"][0])


def test_all_seeds_converged_stops_the_run():
    game = stacked(SATURATING, [0, 1])
    result = Runner(game, GDA(lr_x=0.05, lr_y=0.05), LoopSettings(steps=50, log_every=5, check_every=5, tol=1e3,
                    progress=False)).run()
    assert result.status == "converged" and result.step == 5
    assert result.start_status.tolist() == [CONVERGED, CONVERGED]


# -- the command line: rows, summary, report -------------------------------------------------------------
TINY_CLI = ["game=mog", "ema=0.9", "game.generator.width=4", "game.discriminator.width=4", "game.batch.size=32",
            "game.batch.dataset_size=32", "game.metrics.w1_samples=32", "game.metrics.kl_samples=64",
            "game.metrics.mode_samples=64", "steps=6", "log_every=3", "hardware.dtype=float64", "plot=false",
            "tensorboard=false", "progress=false"]


def _rows_by_seed(run_dir):
    out = {}
    for row in load_metrics(run_dir):
        out.setdefault(row.pop("seed", None), []).append(row)
    return out


def _same_rows(a, b):
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for key in ra:
            if isinstance(ra[key], str):   # "nan" / "inf": a diverged seed's algo/* values
                assert ra[key] == rb[key], key
            elif key != "wall_time_s":
                assert ra[key] == pytest.approx(rb[key], rel=1e-9, abs=1e-12), key


def test_cli_seeds_write_the_rows_and_summaries_of_separate_runs(cli, runs_root):
    from minimax_cli import report

    code, _, err = cli("train", *TINY_CLI, "algo=ogda", "seed=5", "seeds=2", "tensorboard=true", "plot=true",
                       f"hydra.run.dir={runs_root}/many")
    assert code == 0, err
    for seed in (5, 6):   # each seed's TensorBoard run and figures in seeds/<seed>/
        assert list((runs_root / "many" / "seeds" / str(seed)).glob("events.out.tfevents.*"))
        assert (runs_root / "many" / "seeds" / str(seed) / "samples.npz").exists()
    assert not list((runs_root / "many").glob("events.out.tfevents.*"))
    for seed in (5, 6):
        code, _, err = cli("train", *TINY_CLI, "algo=ogda", f"seed={seed}", f"hydra.run.dir={runs_root}/one_{seed}")
        assert code == 0, err
    many = _rows_by_seed(runs_root / "many")
    assert sorted(many) == [5, 6]
    summary = load_summary(runs_root / "many")
    assert summary["n_seeds"] == 2 and [e["seed"] for e in summary["seeds"]] == [5, 6]
    for entry in summary["seeds"]:
        one = load_summary(runs_root / f"one_{entry['seed']}")
        _same_rows(many[entry["seed"]], _rows_by_seed(runs_root / f"one_{entry['seed']}")[None])
        assert entry["status"] == one["status"] and entry["step"] == one["step"]
        assert entry["metrics"] == pytest.approx(one["metrics"], rel=1e-9)
    w1 = [e["metrics"]["w1"] for e in summary["seeds"]]
    assert summary["metrics"]["w1"] == pytest.approx(sum(w1) / 2)
    assert summary["metrics_std"]["w1"] == pytest.approx(abs(w1[0] - w1[1]) / 2 ** 0.5)
    # `minimax report`: the two seeds of one run are the two separate runs
    together = report.table(report.collect_runs([runs_root / "many"]), metrics=["w1", "grad_norm/y"])
    apart = report.table(report.collect_runs([runs_root / "one_5", runs_root / "one_6"]), metrics=["w1", "grad_norm/y"])
    assert len(together) == len(apart) == 1
    for key, value in apart[0].items():
        assert together[0][key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value), key
    seeds = report.collect_runs([runs_root / "many"])
    assert [r.get("seed") for r in seeds] == [5, 6] and seeds[1].where.endswith("[seed 6]")
    assert [r["step"] for r in seeds[0].history] == [0, 3, 6]


@pytest.mark.parametrize("overrides, message", [
    (["seeds=0"], "seeds must be an integer >= 1"),
    (["game=g3", "seeds=2"], "already vectorizes its starts"),
    (["game=mnist", "seeds=2"], "cannot run several seeds in one process"),
])
def test_bad_seeds_are_one_line_and_no_run_dir(cli, runs_root, overrides, message):
    code, _, err = cli("train", *overrides)
    assert code == 2 and message in err
    assert not run_dirs(runs_root)


# -- checkpoints hold every seed ------------------------------------------------------------------------
#: fresh minibatches, a pretraining phase, FR with adaptive CG damping + RMSprop, a generator EMA
CKPT = ["game=mog", "game.batch.mode=fresh", "game.batch.size=32", "game.generator.width=6",
        "game.discriminator.width=6", "game.metrics.w1_samples=64", "game.metrics.kl_samples=64",
        "game.metrics.mode_samples=64",
        "algo=fr", "algo.lr_x=0.001", "algo.lr_y=0.001", "algo.precond=rmsprop", "algo.mixed=fd",
        "algo.solver.kind=cg", "algo.solver.iters=2", "algo.solver.adaptive=true", "ema=0.9",
        "pretrain.steps=5", "+algo@pretrain.algo=gda_alt", "pretrain.algo.lr_x=0.001", "pretrain.algo.precond=adam",
        "seeds=3", "log_every=5", "metrics_every=5", "plot=false", "tensorboard=false", "progress=false"]


def test_a_resumed_multi_seed_run_continues_every_seed_exactly(cli, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("train", *CKPT, "steps=10", "checkpoint_every=5", f"hydra.run.dir={a}")[0] == 0
    code, _, err = cli("train", f"resume={a}", "steps=20")
    assert code == 0, err
    assert cli("train", *CKPT, "steps=20", f"hydra.run.dir={b}")[0] == 0
    assert rows_without_time(a) == rows_without_time(b)
    assert {r["seed"] for r in rows_without_time(a)} == {0, 1, 2}
    sa, sb = load_summary(a), load_summary(b)
    assert sa["seeds"] == sb["seeds"] and sa["metrics"] == sb["metrics"] and sa["step"] == 25


@pytest.mark.slow
def test_kill_9_and_resume_of_a_multi_seed_run_is_row_identical(tmp_path):
    import os
    import sys

    from tests.conftest import kill_resume_and_twin

    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    killed, twin = tmp_path / "killed", tmp_path / "twin"
    cmd = [sys.executable, "-m", "minimax_cli", "train", *CKPT, "steps=80", "checkpoint_every=10"]
    kill_resume_and_twin(cmd, env, killed, twin, past_step=40)
    assert rows_without_time(killed) == rows_without_time(twin)
    assert load_summary(killed)["seeds"] == load_summary(twin)["seeds"]


def test_report_splits_a_killed_multi_seed_run_by_its_config(tmp_path):
    from minimax_cli import report

    run_dir = tmp_path / "killed"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("game: {name: mog}\nalgo: {name: gda}\nseed: 7\nseeds: 3\n")
    rows = [{"step": step, "seed": seed, "w1": 0.1 * seed + step} for step in (0, 10) for seed in (7, 8, 9)]
    rows.append({"step": 20, "seed": 8, "w1": 5.0})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs = report.collect_runs([tmp_path])
    assert [(r.seed, r.status, r.get("seed")) for r in runs] == [(7, "running/killed", 7), (8, "running/killed", 8),
                                                                 (9, "running/killed", 9)]
    assert [r.final("w1") for r in runs] == pytest.approx([10.7, 5.0, 10.9])
    row = report.table(runs, metrics=["w1"])[0]
    assert row["runs"] == 3 and row["running/killed"] == 3 and row["w1:n"] == 3
    assert "[seed 9]" in report.to_markdown(report.table(runs, metrics=["w1"]))


def test_a_checkpoint_from_before_seeds_existed_still_resumes():
    from minimax_cli import checkpoint
    from minimax_cli.config import compose
    from minimax_cli.errors import DataError

    cfg = compose(["game=mog"])
    old = {k: v for k, v in checkpoint.fingerprint(cfg).items() if k not in ("seeds", "hardware.seed_chunk")}
    checkpoint.check_config({"config": old}, cfg, "last.pt")
    with pytest.raises(DataError, match="seeds: 1 -> 2"):
        checkpoint.check_config({"config": old}, compose(["game=mog", "seeds=2"]), "last.pt")
