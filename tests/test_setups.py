"""Setups (minimax_cli/setups.py): the values a game or a paper setup brings for each algorithm.

Every experiment composed with every algorithm its paper runs gives the values of its audit table
(docs/setups.md); every game composed with every algorithm gives its defaults; the command line wins;
an algorithm a setup does not plan for is one clear line.
"""

import math

import pytest
import torch

from minimax_cli import setups
from minimax_cli.algos.base import player_preconds
from minimax_cli.build import build
from minimax_cli.catalog import option_names
from minimax_cli.config import compose
from minimax_cli.errors import ConfigError

EXP = "experiment"
RMSPROP_000 = {"kind": "rmsprop", "beta2": 0.999, "eps": 1e-8, "bias_correction": True}
FR_000 = {"mixed": "fd", "hessian_at": "updated", "solver": {"kind": "cg", "iters": 5, "tol": 1e-8, "damping": 1.0,
                                                              "adaptive": True, "damping_min": 1e-8, "damping_max": 1.0}}
MOG_000 = {"loss": "saturating", "batch": 5000, "init": "glorot_normal", "l2": 1e-4}
ADAM_001 = {"kind": "adam", "beta1": 0.9, "beta2": 0.999}
CG5_001 = {"mixed": "fd", "solver": {"kind": "cg", "iters": 5, "damping": 1.0, "adaptive": True}}
LEAD_8G = {"lr_x": 3e-4, "lr_y": 3e-4, "px": {"kind": "adam", "beta1": 0.5, "beta2": 0.9, "eps": 1e-8},
           "py": {"kind": "adam", "beta1": 0.55, "beta2": 0.9}, "order": "alternating_follower_first",
           "fresh_batch": True, "loss": "non_saturating", "batch": 128, "init": "torch_default", "steps": 10000}
LS = {"lr_x": 1e-3, "lr_y": 1e-3, "loss": "wgan", "batch": 256, "steps": 50000, "init": "torch_default"}
T1 = {"lr_x": 2e-5, "lr_y": 5e-5, "loss": "wgan", "steps": 100000}
T1_ADAM = {"px": {"kind": "adam", "beta1": 0.5, "beta2": 0.9}}
T1_RESNET = {"px": {"kind": "adam", "beta1": 0.0, "beta2": 0.9}}
CG1 = {"mixed": "fd", "solver": {"kind": "cg", "iters": 1}}
TABLE1 = {"gda": {"k": 5, "order": "simultaneous"}, "eg": {}, "fr": {"lr_y2": 0.0, **CG1},
          "hessianfr": {"lr_y2": 2e-5, **CG1}}
TAU_IMAGES = {"px": {"kind": "rmsprop", "beta2": 0.99, "bias_correction": False, "lr_decay": 0.005},
              "order": "alternating_follower_first", "fresh_batch": True, "loss": "non_saturating", "steps": 150000}

#: (experiment, algo) -> the effective values of docs/setups.md (algorithm hparams, game and run keys)
EXPECTED = {
    ("fr_mog1d", "gda"): {"lr_x": 2e-4, "lr_y": 2e-4, "px": RMSPROP_000, "py": RMSPROP_000, "order": "alternating",
                          **MOG_000, "steps": 50000},
    ("fr_mog1d", "eg"): {"lr_x": 2e-4, "lr_y": 2e-4, "px": RMSPROP_000, **MOG_000},
    ("fr_mog1d", "co"): {"lr_x": 2e-4, "lr_y": 2e-4, "gamma": 0.1, "px": RMSPROP_000, **MOG_000},
    ("fr_mog1d", "fr"): {"lr_x": 2e-4, "lr_y": 2e-4, "lr_y2": 0.0, "px": RMSPROP_000, "py": RMSPROP_000, **FR_000,
                         **MOG_000, "steps": 50000},
    ("fr_mog2d", "gda"): {"lr_x": 2e-4, "lr_y": 2e-4, "order": "alternating", "data": "grid2d", **MOG_000},
    ("fr_mog2d", "fr"): {"lr_x": 2e-4, "lr_y": 2e-4, **FR_000, "data": "grid2d", **MOG_000},
    ("fr_mnist01", "gda"): {"lr_x": 1e-4, "lr_y": 1e-4, "px": RMSPROP_000, "py": RMSPROP_000, "order": "alternating",
                            "loss": "saturating", "batch": 2000, "steps": 100000},
    ("fr_mnist01", "fr"): {"lr_x": 1e-4, "lr_y": 1e-4, "lr_y2": 0.0, "px": RMSPROP_000, **FR_000, "loss": "saturating",
                           "batch": 2000, "steps": 100000},
    ("hessianfr_mog1d", "gda"): {"lr_x": 1e-4, "lr_y": 1e-4, "px": ADAM_001, "order": "simultaneous", "k": 1,
                                 "loss": "saturating", "latent": 3, "steps": 100000, "pretrain": 10000},
    ("hessianfr_mog1d", "eg"): {"lr_x": 1e-4, "lr_y": 1e-4, "px": ADAM_001},
    ("hessianfr_mog1d", "fr"): {"lr_x": 1e-4, "lr_y": 1e-4, "lr_y2": 0.0, "px": ADAM_001, **CG5_001},
    ("hessianfr_mog1d", "hessianfr"): {"lr_x": 1e-4, "lr_y": 1e-4, "lr_y2": 1e-4, "px": ADAM_001, **CG5_001},
    ("hessianfr_mog1d", "gdn"): {"lr_x": 1e-4, "lr_y": 0.0, "lr_y2": 1.0, "px": ADAM_001, "py": {"kind": "sgd"},
                                 **CG5_001},
    ("lead_ring8", "lead_adam"): {**LEAD_8G, "alpha_x": 0.6, "alpha_y": 0.6, "coupling": "inside"},
    ("lead_ring8", "gda"): {**LEAD_8G, "k": 1},
    ("ls_ring8", "gda"): {**LS, "px": {"kind": "sgd"}, "order": "simultaneous"},
    ("ls_ring8", "ogda"): {**LS, "px": {"kind": "sgd"}},
    ("ls_ring8", "pm"): {**LS, "px": {"kind": "sgd"}, "gamma_x": 0.01},
    ("ls_ring8", "iu"): {**LS, "inner": "fixed_point", "inner_steps": 5},
    ("ls_ring8", "co"): {**LS, "gamma": 1.0, "penalty": "half_squared_norm", "consensus_on": "value"},
    ("tgda_ring8", "tgda"): {"lr_x": 0.005, "lr_y": 0.02, "px": {"kind": "sgd"}, "order": "simultaneous",
                             "loss": "non_saturating", "batch": 512, "steps": 60000},
    **{(name, algo): {**T1, **(T1_RESNET if "resnet" in name else T1_ADAM), **values}
       for name in ("hessianfr_mnist", "hessianfr_cifar10_cnn", "hessianfr_cifar10_resnet", "hessianfr_celeba_resnet")
       for algo, values in TABLE1.items()},
    ("lead_cifar_dcgan", "gda"): {"lr_x": 2e-4, "lr_y": 1e-4, "px": {"kind": "adam", "beta1": 0.5, "beta2": 0.99},
                                  "order": "alternating_follower_first", "fresh_batch": True, "k": 1, "batch": 64,
                                  "loss": "non_saturating", "steps": 78000},
    ("lead_cifar_dcgan", "lead_adam"): {"lr_x": 2e-4, "lr_y": 1e-4, "px": {"kind": "adam", "beta1": 0.5, "beta2": 0.99},
                                        "alpha_x": 0.0, "alpha_y": 0.3, "order": "alternating_follower_first",
                                        "fresh_batch": True},
    ("lead_cifar_resnet", "gda"): {"lr_x": 2e-4, "lr_y": 2e-4, "k": 5, "px": {"kind": "adam", "beta1": 0.0, "beta2": 0.9},
                                   "order": "alternating_follower_first", "fresh_batch": True, "steps": 50000},
    ("lead_cifar_resnet", "lead_adam"): {"lr_x": 2e-4, "lr_y": 1e-4, "alpha_x": 0.5, "alpha_y": 0.01,
                                         "px": {"kind": "adam", "beta1": 0.0, "beta2": 0.9}},
    ("tgda_cifar10", "tgda"): {"lr_x": 1e-4, "lr_y": 4e-4, **TAU_IMAGES, "batch": 64},
    ("tgda_celeba", "tgda"): {"lr_x": 5e-5, "lr_y": 2e-4, **TAU_IMAGES},
}


def effective(overrides):
    """(algorithm hparams, composed config) as a run builds them."""
    cfg = compose(overrides)
    return build(cfg.algo, "algo").hparams(), cfg


def _check(actual, expected, where):
    for key, want in expected.items():
        got = actual[key]
        if isinstance(want, dict):
            _check(got, want, f"{where}.{key}")
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-12), f"{where}.{key}: {got} != {want}"
        else:
            assert got == want, f"{where}.{key}: {got!r} != {want!r}"


def _game_values(cfg) -> dict:
    game = cfg.game
    out = {"loss": game.loss.kind, "batch": game.batch.size, "steps": cfg.steps,
           "pretrain": cfg.pretrain.steps}
    if "generator" in game and "init" in game.generator:
        out.update(init=game.generator.init, latent=game.generator.latent, l2=game.loss.l2, data=game.data)
    return out


def test_every_experiment_lists_exactly_the_algorithms_its_audit_checks():
    for name in option_names(EXP):
        assert setups.planned_in_file(name) == [a for (n, a) in EXPECTED if n == name], name


@pytest.mark.parametrize("name,algo", list(EXPECTED))
def test_an_experiment_gives_its_papers_values_for_every_algorithm_it_runs(name, algo):
    hp, cfg = effective([f"+{EXP}={name}", f"algo={algo}"])
    actual = {**hp, **_game_values(cfg)}
    if "solver" in hp:
        actual["solver"] = hp["solver"]
    _check(actual, EXPECTED[(name, algo)], f"{name}+{algo}")
    # the setup tables are consumed: nothing of them reaches a constructor or the run's config
    assert "setup" not in cfg and "setup" not in cfg.game


def test_an_algorithm_the_setup_does_not_plan_for_is_one_clear_line(cli, runs_root):
    code, _, err = cli("train", f"+{EXP}=fr_mog1d", "algo=sga")
    assert code == 2 and not runs_root.exists()
    assert err.strip().splitlines() == [
        "minimax: error: experiment fr_mog1d plans for algo=gda, eg, co, fr (Wang et al. 2020, §6.2.1, App. D.2, D.4; "
        "docs/setups.md#fr_mog1d); algo=sga is not one of them: choose one of those, or add setup.strict=false to "
        "run sga with the setup's common values (setup.all) and its own yaml for the rest"]
    # the documented fallback: the experiment's common values, the algorithm's own yaml for the rest
    hp, _ = effective([f"+{EXP}=fr_mog1d", "algo=sga", "setup.strict=false"])
    assert hp["lr_x"] == hp["lr_y"] == 2e-4 and hp["px"]["kind"] == "rmsprop" and hp["lam"] == 1.0


def test_a_paper_name_that_is_another_algorithm_here_is_pointed_out(cli, runs_root):
    """Seed 004's "SGA" is simultaneous gradient ascent (algo=gda); minimax's sga is Balduzzi et al.'s."""
    code, _, err = cli("train", f"+{EXP}=ls_ring8", "algo=sga", "seeds=16")
    assert code == 2 and not runs_root.exists()
    assert ("plans for algo=gda (SGA), ogda (OMD), pm, iu, co" in err
            and "(the paper's SGA is algo=gda here; minimax's sga is another method, conf/algo/sga.yaml)" in err)
    with pytest.raises(ConfigError, match=r"setup.names.eg names an algorithm the setup does not plan for"):
        effective([f"+{EXP}=ls_ring8", "algo=gda", "+setup.names.eg=EG"])


def test_the_command_line_wins_and_keeps_the_rest_of_the_setup():
    hp, _ = effective([f"+{EXP}=fr_mog1d", "algo=fr", "algo.solver.iters=10", "algo.precond.beta2=0.99",
                       "algo.lr_y=1e-3"])
    assert hp["solver"]["iters"] == 10 and hp["solver"]["adaptive"] and hp["solver"]["damping_max"] == 1.0
    assert hp["px"]["kind"] == "rmsprop" and hp["px"]["beta2"] == 0.99 and hp["lr_y"] == 1e-3 and hp["lr_x"] == 2e-4
    # a whole node from the command line replaces the setup's (a kind alone: that kind's standard values)
    hp, _ = effective([f"+{EXP}=lead_ring8", "algo=lead_adam", "algo.precond=adam"])
    assert (hp["px"]["beta1"], hp["px"]["beta2"]) == (0.9, 0.999) and hp["py"]["beta1"] == 0.55
    # tau on the command line: lr_y = tau * lr_x, whatever lr_y the setup states
    hp, _ = effective([f"+{EXP}=fr_mog1d", "algo=gda", "algo.tau=4"])
    assert hp["lr_y"] == pytest.approx(8e-4)


def test_the_sources_of_every_value_are_recorded():
    ov = [f"+{EXP}=fr_mog1d", "algo=fr", "algo.solver.iters=10"]
    res = setups.resolve(compose(ov, hydra_config=True, setups=False), ov)
    assert res.sources["algo.lr_x"] == "experiment fr_mog1d"
    assert res.sources["algo.solver.iters"] == "command line"
    assert res.sources["algo.solver.diag_max"] == "algo yaml"
    ov = ["game=g1", "algo=tgda"]
    res = setups.resolve(compose(ov, hydra_config=True, setups=False), ov)
    assert res.sources["algo.lr_x"] == "algo yaml" and res.sources["algo.lr_y"] == "tau * lr_x"


def test_info_and_cfg_job_show_where_each_value_came_from(cli):
    code, out, _ = cli("info", "game=mog", "algo=hessianfr", "algo.lr_x=1e-3")
    assert code == 0
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if line.startswith("  algo.")}
    assert lines["algo.lr_y2"].endswith("game mog") and lines["algo.lr_x"].endswith("command line")
    assert lines["algo.solver.kind"].split()[-3:] == ["diag", "game", "mog"]
    code, out, _ = cli("train", "--cfg", "job", f"+{EXP}=lead_ring8", "algo=lead_adam")
    assert code == 0 and "\nalgo:\n" in out and "_target_: minimax_cli.algos.lead.LEAD" in out
    assert "#   algo.alpha_x: 0.6" in out and out.rstrip().splitlines()[-1].startswith("#   ")


# -- game defaults ---------------------------------------------------------------------------------------------
TOYS = [g for g in option_names("game") if g not in ("mog", "mnist", "cifar10", "celeba", "images")]
GAME_DEFAULTS = {  # game -> (lr_x, lr_y of a tau = 1 algorithm, precond kind, beta1, beta2)
    "mog": (1e-2, 1e-2, "adam", 0.5, 0.999),
    "mnist": (2e-5, 5e-5, "adam", 0.5, 0.9),
    "cifar10": (2e-4, 1e-4, "adam", 0.5, 0.99),
    "celeba": (2e-4, 1e-4, "adam", 0.5, 0.99),
    "images": (2e-4, 1e-4, "adam", 0.5, 0.99),   # a folder of images: cifar10's DCGAN setup
}


@pytest.mark.parametrize("algo", option_names("algo"))
def test_every_game_gives_every_algorithm_its_defaults(algo):
    toy_hp, _ = effective(["game=g1", f"algo={algo}"])
    for game in TOYS:   # the toy games keep the papers' toy values (conf/algo)
        hp, _ = effective([f"game={game}", f"algo={algo}"])
        assert hp == toy_hp
    assert toy_hp["lr_x"] == {"lead_adam": 2e-4, "extra_adam": 5e-4}.get(algo, 0.05)   # their papers' GAN rates
    for game, (lr_x, lr_y, kind, beta1, beta2) in GAME_DEFAULTS.items():
        hp, cfg = effective([f"game={game}", f"algo={algo}"])
        assert hp["lr_x"] == lr_x, (game, algo)
        if algo == "tgda":
            assert hp["lr_y"] == pytest.approx(4 * lr_x)     # tau-GDA keeps its timescale separation
        elif algo != "gdn":
            assert hp["lr_y"] == lr_y, (game, algo)
        if "px" in hp:
            assert (hp["px"]["kind"], hp["px"]["beta1"], hp["px"]["beta2"]) == (kind, beta1, beta2), (game, algo)
        if algo in ("fr", "hessianfr"):
            assert hp["mixed"] == "fd" and hp["solver"]["kind"] == ("diag" if game == "mog" else "cg")
        if algo == "hessianfr":
            assert hp["lr_y2"] == lr_x
        if algo == "gdn":   # the follower's Newton step, unpreconditioned
            assert (hp["lr_y"], hp["lr_y2"], hp["py"]["kind"]) == (0.0, 1.0, "sgd")
        if game == "mog":
            assert (cfg.steps, cfg.log_every, cfg.ema, cfg.game.batch.size, cfg.hardware.threads) == (2500, 250, 0.99,
                                                                                                      500, 1)


def test_a_game_default_never_overrides_the_command_line():
    hp, cfg = effective(["game=mog", "algo=gda", "algo.lr_x=0.02", "algo.precond=sgd", "steps=7", "hardware.threads=2"])
    assert hp["lr_x"] == 0.02 and hp["lr_y"] == 1e-2 and hp["px"]["kind"] == "sgd" and cfg.steps == 7
    assert cfg.hardware.threads == 2 and cfg.log_every == 250


# -- the mechanics the setups need ---------------------------------------------------------------------------
def test_per_player_preconditioner_fields_replace_the_shared_ones():
    px, py = player_preconds({"kind": "adam", "beta1": 0.5, "beta2": 0.9}, None, {"beta1": 0.55, "kind": None})
    assert (px.kind, px.beta1, px.beta2) == ("adam", 0.5, 0.9) and (py.kind, py.beta1, py.beta2) == ("adam", 0.55, 0.9)
    px, py = player_preconds("adam", "sgd", {"beta2": 0.99}, momentum=0.5)
    assert px.kind == "sgd" and py.beta2 == 0.99 and py.beta1 == 0.9 and px.momentum == py.momentum == 0.5


def test_normal_init_draws_the_dcgan_normal():
    from minimax_cli.games.nets.mlp import MLP

    net = MLP(2, 1, 1, 4000, "relu").initialize("normal_0.02", torch.Generator().manual_seed(0))
    assert net[0].weight.std().item() == pytest.approx(0.02, rel=0.02) and net[0].bias.abs().max() == 0


def test_fresh_batch_gives_the_second_mover_a_new_batch_and_alpha_zero_lead_is_adam():
    """LEAD-Adam with α = 0 in the reference's D-first loop is plain alternating Adam, batch for batch."""
    from minimax_cli.algos.gda import GDA
    from minimax_cli.algos.lead import LEAD
    from minimax_cli.games.gan import GAN
    from minimax_cli.oracle import Oracle

    game = GAN(batch={"mode": "fresh", "size": 16}, generator={"latent": 2, "depth": 1, "width": 4},
               discriminator={"depth": 1, "width": 4}, loss={"kind": "non_saturating"})
    game.setup(torch.device("cpu"), torch.float64, 0)
    common = dict(lr_x=1e-2, lr_y=1e-2, order="alternating_follower_first", fresh_batch=True,
                  precond={"kind": "adam", "beta1": 0.5, "beta2": 0.9}, precond_y={"beta1": 0.55})
    runs = []
    for algo in (GDA(**common), LEAD(alpha=0.0, coupling="inside", **common)):
        state = algo.init(*[p[0] for p in game.initial_points()], None)
        sampler = game._sampler
        sampler.manual_seed(1)
        for t in range(3):
            state, _ = algo.step(state, Oracle(game, game.sample(t), sampler=lambda t=t: game.sample(t)))
        runs.append(state)
    assert torch.allclose(runs[0]["x"], runs[1]["x"], atol=1e-12) and torch.allclose(runs[0]["y"], runs[1]["y"])
    # the same loop on one batch per step is another trajectory
    one = GDA(**{**common, "fresh_batch": False})
    state = one.init(*[p[0] for p in game.initial_points()], None)
    game._sampler.manual_seed(1)
    for t in range(3):
        state, _ = one.step(state, Oracle(game, game.sample(t), sampler=lambda t=t: game.sample(t)))
    assert not torch.allclose(state["x"], runs[0]["x"])
    with pytest.raises(Exception, match="fresh_batch=true .* needs an alternating algo.order"):
        GDA(tau=1.0, fresh_batch=True)


@pytest.mark.slow
@pytest.mark.parametrize("algo", option_names("algo"))
def test_every_algorithm_stays_finite_on_mog_with_its_defaults(algo, tmp_path):
    """200 steps of every algorithm on game=mog with the game's defaults."""
    from minimax_cli.run_settings import settings_of
    from minimax_cli.train import execute

    cfg = compose(["game=mog", f"algo={algo}", "steps=200", "log_every=200", "progress=false", "plot=false",
                   "tensorboard=false", "hardware.threads=1"])
    result = execute(settings_of(cfg), tmp_path / "run")
    assert result.status == "finished"
    assert all(bool(torch.isfinite(v).all()) for k, v in result.state.items() if k in ("x", "y"))
    assert math.isfinite(result.step)


@pytest.mark.slow
def test_the_headline_command_covers_the_three_modes(tmp_path):
    """`minimax train algo=hessianfr game=mog` with the game's defaults (HessianFR-DG, Adam 1e-2, D's L2
    1e-3, 2,500 steps on batches of 500, the generator's EMA evaluated, W1 on 4,096 samples): all 3
    modes, W1 <= 0.25 (README quickstart; seeds 0-15 all end there, docs/setups.md#gamemog)."""
    import json

    from tests.conftest import run_subprocess

    run = tmp_path / "run"
    proc = run_subprocess(["train", "algo=hessianfr", "game=mog", "tensorboard=false", f"hydra.run.dir={run}"],
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == 2500
    assert summary["algo_params"]["solver"]["kind"] == "diag" and summary["ema"] == 0.99
    assert summary["metrics"]["modes_covered"] == 3 and summary["metrics"]["w1"] <= 0.25
    assert "# algo=hessianfr: effective values" in (run / ".hydra" / "resolved.yaml").read_text()


def test_every_audit_table_the_configs_cite_exists():
    """conf/ cites docs/setups.md#<anchor>; each anchor is a heading there (GitHub's anchor rules)."""
    import re

    from minimax_cli.catalog import CONF_DIR

    docs = (CONF_DIR.parent / "docs" / "setups.md").read_text()
    anchors = {re.sub(r"[^\w\- ]", "", h.strip("# ").lower()).replace(" ", "-")
               for h in docs.splitlines() if h.startswith("#")}
    cited = {m for p in CONF_DIR.rglob("*.yaml") for m in re.findall(r"docs/setups\.md#([\w-]+)", p.read_text())}
    assert cited and cited <= anchors, cited - anchors
    for name in option_names(EXP):
        assert name in cited or name.startswith("hessianfr_") and name != "hessianfr_mog1d", name


def test_a_games_values_reach_a_pretraining_algorithm_an_experiments_do_not_change_its_own():
    _, cfg = effective(["game=mog", "+algo@pretrain.algo=gda", "pretrain.steps=5", "pretrain.algo.lr_x=0.02"])
    pre = build(cfg.pretrain.algo, "pretrain.algo").hparams()
    assert (pre["lr_x"], pre["lr_y"], pre["px"]["kind"]) == (0.02, 1e-2, "adam")
    _, cfg = effective([f"+{EXP}=hessianfr_mog1d", "algo=hessianfr"])   # GDA-2 at 1e-4, as the paper's pretraining
    pre = build(cfg.pretrain.algo, "pretrain.algo").hparams()
    assert (pre["lr_x"], pre["lr_y"], pre["k"], pre["px"]["kind"]) == (1e-4, 1e-4, 2, "adam")
