"""The MoG GAN reproductions' quick (CI) variants: `minimax reproduce NAME --quick` (one real CLI launch),
tables from minimax report, claims, figures; each well under two minutes on 2 cores."""

import json

import pytest

from minimax_cli.reproduce import engine, estimate
from minimax_cli.reproduce import fr_mog as reproduce_fr_mog
from minimax_cli.reproduce import hessianfr_mog as reproduce_hessianfr_mog
from minimax_cli.reproduce import lead_8g as reproduce_lead_8g
from minimax_cli.reproduce import ls_mog as reproduce_ls_mog
from tests.reproduce_command import reproduce
from minimax_cli.reproduce.outputs import write_outputs


def outputs(out):
    data = json.loads((out / "rows.json").read_text())
    return data, (out / "table.md").read_text()


def checked(data):
    return [c for c in data["claims"] if c["scope"] == "both"]


@pytest.mark.slow
def test_fr_mog_quick_fr_leaves_gda_behind_from_the_gda_trained_point(tmp_path):
    out = tmp_path / "fr"
    code = reproduce(["fr-mog", "--quick", "--out", str(out)])
    data, text = outputs(out)
    assert code == 0, text
    rows = data["rows"]
    assert set(rows) == {"gda", "eg", "co", "fr", "fr_m08", "fr_m09", "gda_2d", "fr_2d"}
    assert rows["fr"]["steps"] == rows["gda"]["steps"] == 1500          # compared over steps 1,000–1,500
    assert rows["fr"]["grad_norm_min"] * 5 <= rows["gda"]["grad_norm_min"]
    short = [rows[k] for k in ("eg", "co", "fr_m08", "fr_m09", "gda_2d", "fr_2d")]   # their whole 50 steps
    assert all(r["steps"] == 50 and r["grad_norm_min"] > 0 for r in short), short
    assert len(checked(data)) == 2 and all(c["ok"] for c in checked(data))
    assert "| gda |" in text and "* ✓ From the GDA-trained point" in text and "full setting only" in text
    for name in ("fig4.png", "fig11.png", "fig5.png", "curves.png"):
        assert (out / name).stat().st_size > 10_000


@pytest.mark.slow
def test_hessianfr_mog_quick_cost_ordering_of_the_cg_ablation(tmp_path):
    out = tmp_path / "hfr"
    code = reproduce(["hessianfr-mog", "--quick", "--out", str(out)])
    data, text = outputs(out)
    assert code == 0, text
    rows = data["rows"]
    assert set(rows) == {"gda", "gda2", "eg", "hessianfr_cg1", "hessianfr_cg5", "hessianfr_cg10", "hessianfr_dg"}
    # counted products per step: 2k + 1 (CG; the damping rule's G z comes from CG's own products); DG none
    assert [rows[k]["hvps_per_step"] for k in ("hessianfr_dg", "hessianfr_cg1", "hessianfr_cg5", "hessianfr_cg10")] \
        == [0, 3, 11, 21]
    assert all(r["steps"] == 60 and r["status"] == "finished" for r in rows.values())
    assert all(c["ok"] for c in checked(data)) and len(checked(data)) == 2
    for name in ("fig2_fig3.png", "fig4_fig5.png", "curves.png"):
        assert (out / name).stat().st_size > 10_000
    runs = sorted((out / "runs").glob("*/*/summary.json"))
    assert len(runs) == 7 and all(json.loads(p.read_text())["pretrain"]["steps"] == 50 for p in runs)


@pytest.mark.slow
def test_lead_8g_quick_pipeline(tmp_path):
    out = tmp_path / "lead"
    code = reproduce(["lead-8g", "--quick", "--out", str(out)])
    data, text = outputs(out)
    assert code == 0, text
    assert sorted(r["algo"] for r in data["rows"]) == ["adam", "lead_adam"]
    summaries = {p.parent.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/*/summary.json")}
    adam, lead = summaries["adam"]["algo_params"], summaries["lead_adam"]["algo_params"]
    # the experiment's values (docs/setups.md#lead_ring8): plain Adam baseline, α = 0.6, D first, new noise for G
    assert "alpha_y" not in adam and lead["alpha_x"] == lead["alpha_y"] == 0.6
    for params in (adam, lead):
        assert params["order"] == "alternating_follower_first" and params["fresh_batch"]
        assert (params["px"]["beta1"], params["py"]["beta1"], params["lr_x"]) == (0.5, 0.55, 3e-4)
    assert (out / "fig6.png").stat().st_size > 10_000


@pytest.mark.slow
def test_ls_mog_quick_best_and_worst_runs(tmp_path):
    out = tmp_path / "ls"
    code = reproduce(["ls-mog", "--quick", "--out", str(out)])
    data, text = outputs(out)
    assert code == 0, text
    rows = data["rows"]
    assert len(rows) == 6 and {r["algo"] for r in rows} == {"sim", "omd", "co"}
    best = min(rows, key=lambda r: r["w1"])
    worst = max((r for r in rows if r["status"] != "diverged"), key=lambda r: r["w1"])
    assert f"| best | {best['algo']} | {best['seed']} | {best['w1']:.3f} |" in text
    assert f"| worst converged | {worst['algo']} | {worst['seed']} | {worst['w1']:.3f} |" in text
    summaries = list((out / "runs" / "co").glob("*/summary.json"))
    assert len(summaries) == 1   # the two seeds as one vectorized run
    co = json.loads(summaries[0].read_text())
    assert co["n_seeds"] == 2 and [e["seed"] for e in co["seeds"]] == [0, 1]
    assert co["algo_params"]["consensus_on"] == "value" and co["algo_params"]["gamma"] == 1.0
    for name in ("fig2_w1.png", "fig3_best_worst.png"):
        assert (out / name).stat().st_size > 10_000


def test_results_are_never_overwritten_and_reanalysis_needs_runs(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("earlier results")
    assert reproduce(["ls-mog", "--quick", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "earlier results"
    assert reproduce(["ls-mog", "--reanalyze", str(tmp_path / "nothing")]) == 2
    assert "--reanalyze needs the folder of an earlier reproduction" in capsys.readouterr().err


def test_claims_outside_the_quick_setting_are_reported_not_checked(tmp_path):
    claims = [engine.Claim("holds", True), engine.Claim("needs the full budget", False, "full")]
    code = write_outputs(tmp_path, "t", "s", [], claims, quick=True, notes="n", extra={})
    text = (tmp_path / "table.md").read_text()
    assert code == 0 and "* ✓ holds" in text and "* – needs the full budget (full setting only" in text
    assert write_outputs(tmp_path, "t", "s", [], claims, quick=False, notes="n", extra={}) == 1
    assert "* ✗ needs the full budget" in (tmp_path / "table.md").read_text()


@pytest.mark.parametrize("script", [reproduce_fr_mog, reproduce_hessianfr_mog, reproduce_lead_8g, reproduce_ls_mog],
                         ids=lambda m: m.__name__.split(".")[-1])
def test_every_full_setting_variant_composes_and_validates(script):
    from minimax_cli.checks import check_run
    from minimax_cli.config import compose

    for variant in script.variants(quick=False):
        one_run = engine.seed_overrides(variant.seeds) if variant.vectorize else []
        cfg = compose([*variant.overrides, f"algo.name={variant.label}", *one_run])
        check_run(cfg)
        assert cfg.game.name == "mog" and cfg.steps >= 10_000


def test_estimate_times_a_variants_seeds_as_one_run_beside_one_seed():
    tiny = ["game=mog", "game.generator.width=4", "game.discriminator.width=4", "game.batch.size=16",
            "game.batch.dataset_size=16", "steps=100", "algo=gda"]
    rows = estimate.estimate([engine.Variant("three", tiny, seeds=(0, 1, 2)),
                               engine.Variant("pre", [*tiny, "pretrain.steps=50", "+algo@pretrain.algo=ogda"]),
                               engine.Variant("sweep", tiny, seeds=(0, 1), vectorize=False)],
                              steps=1, warmup=0)
    assert [r["vectorized"] for r in rows] == [True, False, False]
    assert rows[2]["hours"] == pytest.approx(rows[2]["s_per_step"][0] * 100 * 2 / 3600)
    assert len(rows[1]["s_per_step"]) == 2 and rows[1]["hours"] == rows[1]["hours_separate"]
    assert rows[0]["hours"] == pytest.approx(rows[0]["s_per_step"][0] * 100 / 3600)
    assert rows[0]["hours_separate"] == pytest.approx(rows[0]["s_per_step_one_seed"][0] * 100 * 3 / 3600)
    assert engine.seed_overrides((4, 5, 6)) == ["seed=4", "seeds=3"]
    assert engine.seed_overrides((0, 2)) == ["seed=0,2"] and engine.seed_overrides((3,)) == ["seed=3"]
    assert engine.seed_overrides((0, 1), vectorize=False) == ["seed=0,1"]
