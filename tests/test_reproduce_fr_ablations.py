"""Wang et al. 2020, Fig. 8 (`fr-mnist`: GDA vs FR on MNIST 0/1) and App. E.1 / Fig. 9 (`fr-precond`: FR with
and without its preconditioner): the quick (CI) reproductions end to end, and their claims on made-up rows (a
claim that cannot fail checks nothing)."""

import json
import math

import pytest

from minimax_cli.config import compose
from minimax_cli.reproduce import fr_mnist, fr_precond, registry
from tests.reproduce_command import reproduce


def outputs(out):
    return json.loads((out / "rows.json").read_text()), (out / "table.md").read_text()


def test_both_are_listed_with_the_full_setting_of_the_paper():
    assert {"fr-mnist", "fr-precond"} <= set(registry.MODULES)
    full = {v.label: v.overrides for v in fr_mnist.variants(False)}
    assert full == {"gda": ["+experiment=fr_mnist01", "algo=gda"], "fr": ["+experiment=fr_mnist01", "algo=fr"]}
    cfg = compose(["+experiment=fr_mnist01", "algo=fr"])
    assert (cfg.steps, cfg.game.batch.size, list(cfg.game.classes), cfg.game.per_class) == (100000, 2000, [0, 1], 4800)
    assert (cfg.game.generator.latent_dim, cfg.game.generator.width, cfg.game.discriminator.width) == (64, 512, 512)
    assert cfg.game.loss.kind == "saturating" and cfg.algo.solver.iters == 5 and cfg.algo.lr_x == cfg.algo.lr_y == 1e-4
    precond = {v.label: v.overrides for v in fr_precond.variants(False)}
    assert list(precond) == ["fr_vanilla", "fr_precond", "fr_vanilla_50k"]
    assert "steps=500000" in precond["fr_vanilla"] and "steps=50000" in precond["fr_vanilla_50k"]
    assert "algo.precond=sgd" in precond["fr_vanilla"] and "algo.lr_x=0.05" in precond["fr_vanilla"]
    assert not any(o.startswith(("algo.precond", "algo.lr", "steps")) for o in precond["fr_precond"])


def test_the_mnist_nets_are_two_hidden_tanh_layers_with_spectral_norm_on_d():
    import torch

    from minimax_cli.games.nets.image_mlp import MLPDiscriminator, MLPGenerator
    from minimax_cli.games.nets.layers import spectral_layers

    G, D = MLPGenerator(1, 28, latent_dim=64), MLPDiscriminator(1, 28)
    assert [m.out_features for m in G.net if isinstance(m, torch.nn.Linear)] == [512, 512, 784]
    assert spectral_layers(D) == ["net.0", "net.2", "net.4"]
    assert G(torch.randn(3, 64)).shape == (3, 1, 28, 28) and D(torch.rand(3, 1, 28, 28)).shape == (3,)


def _mnist_row(**kw):
    row = {"status": "finished", "steps": 100, "rows": 5, "finite": True, "grad_x_first": 1.0, "grad_y_first": 1.0,
           "grad_x_tail": 0.5, "grad_y_tail": 0.5, "grad_norm_first": 1.0, "grad_norm_tail": 0.5,
           "ridge_rows": 4, "ridge_min": 1e-3, "fid": 10.0}
    return {**row, **kw}


def test_fr_mnist_claims_fail_when_their_condition_does_not_hold():
    ok = {c.text.split(":")[0]: c.ok for c in fr_mnist.claims({"gda": _mnist_row(), "fr": _mnist_row(
        grad_x_tail=0.01, grad_y_tail=0.01, grad_norm_tail=0.01)})}
    assert all(ok.values()) and len(ok) == 4
    bad = fr_mnist.claims({"gda": _mnist_row(finite=False), "fr": _mnist_row(status="failed", ridge_min=0.0,
                                                                                    grad_norm_tail=1e-4)})
    assert [c.ok for c in bad] == [False, False, False, False, False, False]
    assert [c.scope for c in bad] == ["both", "both", "both", "full", "full", "full"]


def _precond_row(**kw):
    row = {"status": "finished", "steps": 40, "rows": 5, "finite": True, "grad_norm_first": 1.0, "grad_norm_tail": 0.5,
           "ridge_rows": 4, "ridge_min": 1e-3, "precond": "sgd", "lr_x": 0.05, "lr_y": 0.05,
           "modes_covered": 3, "disc_spread": 0.01}
    return {**row, **kw}


def test_fr_precond_claims_fail_when_their_condition_does_not_hold():
    rows = {"fr_precond": _precond_row(precond="rmsprop", lr_x=2e-4, lr_y=2e-4, grad_norm_tail=1e-4),
            "fr_vanilla_50k": _precond_row(grad_norm_tail=1e-2), "fr_vanilla": _precond_row(grad_norm_tail=5e-4)}
    assert all(c.ok for c in fr_precond.claims(rows, quick=False))
    rows["fr_vanilla_50k"]["lr_x"] = 2e-4                          # not the ablation the paper ran
    rows["fr_vanilla"].update(grad_norm_tail=1e-2, disc_spread=0.4)  # not converged, D not fooled
    failed = [c.text.split(":")[0] for c in fr_precond.claims(rows, quick=False) if not c.ok]
    assert failed == ["The ablation", "Fig. 9", "Fig. 9"]


@pytest.mark.slow
def test_fr_mnist_quick(tmp_path):
    out = tmp_path / "mnist"
    code = reproduce(["fr-mnist", "--quick", "--out", str(out)])
    data, text = outputs(out)
    assert code == 0, text
    rows = data["rows"]
    assert set(rows) == {"gda", "fr"} and all(r["steps"] == 60 and r["rows"] == 13 for r in rows.values())
    assert rows["fr"]["ridge_min"] > 0 and all(math.isfinite(r["fid"]) for r in rows.values())
    checked = [c for c in data["claims"] if c["scope"] == "both"]
    assert len(checked) == 3 and all(c["ok"] for c in checked)
    assert "full setting only" in text and (out / "fig8.png").stat().st_size > 10_000


@pytest.mark.slow
def test_fr_precond_quick(tmp_path):
    out = tmp_path / "precond"
    code = reproduce(["fr-precond", "--quick", "--out", str(out)])
    data, text = outputs(out)
    assert code == 0, text
    rows = data["rows"]
    assert set(rows) == {"fr_precond", "fr_vanilla_50k"} and all(r["steps"] == 40 for r in rows.values())
    assert (rows["fr_precond"]["precond"], rows["fr_vanilla_50k"]["precond"]) == ("rmsprop", "sgd")
    checked = [c for c in data["claims"] if c["scope"] == "both"]
    assert len(checked) == 3 and all(c["ok"] for c in checked)
    assert (out / "fig9.png").stat().st_size > 10_000
