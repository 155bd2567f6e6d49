"""`minimax analyze` end to end: one JSON object with the issue's keys, a readable report, bad input."""

import json

import numpy as np
import pytest

from tests.conftest import run_subprocess

KEYS = {"game", "algo", "point", "classification", "game_jacobian_eigs", "step_jacobian_eigs",
        "spectral_radius", "step_map", "tau_star", "bilinear_bounds"}
REQUIRED = {"point", "classification", "game_jacobian_eigs", "step_jacobian_eigs", "spectral_radius", "tau_star"}


def analyze_json(cli, *args):
    code, out, err = cli("analyze", *args)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1        # ONE JSON object
    return json.loads(out)


def test_json_report_of_tgda_on_g1(cli, runs_root):
    rep = analyze_json(cli, "game=g1", "algo=tgda", "algo.tau=4", "algo.lr_x=0.05", "--json")
    assert set(rep) == KEYS and REQUIRED <= set(rep)
    assert (rep["game"], rep["algo"]) == ("g1", "tgda")
    assert rep["point"]["x"] == [0.0] and rep["point"]["y"] == [0.0]
    c = rep["classification"]
    assert (c["class"], c["strict"]) == ("local_minimax", True)
    assert c["H_yy_eigs"] == [pytest.approx(-2.0)] and c["schur_eigs"] == [pytest.approx(2.0)]
    # game Jacobian [[−6, 4], [−4, 2]]: eigenvalue −2 (double), as [re, im] pairs
    assert np.allclose(rep["game_jacobian_eigs"], [[-2.0, 0.0], [-2.0, 0.0]], atol=1e-6)
    step = np.eye(2) - 0.05 * np.diag([1.0, 4.0]) @ np.array([[-6.0, 4.0], [-4.0, 2.0]])
    want = np.linalg.eigvals(step)
    assert rep["spectral_radius"] == pytest.approx(float(np.abs(want).max()), rel=1e-12)
    got = np.sort_complex(np.array([complex(*p) for p in rep["step_jacobian_eigs"]]))
    assert np.allclose(got, np.sort_complex(want), atol=1e-12)
    assert all(len(p) == 2 for p in rep["step_jacobian_eigs"])
    t = rep["tau_star"]   # J_τ = [[−6, 4], [−4τ, 2τ]]: trace 2τ − 6, det 4τ, so τ* = 3
    assert t["dse"] and t["value"] == pytest.approx(3.0) and t["scan"] == pytest.approx(3.0) and t["agree"]
    assert rep["bilinear_bounds"] is None
    assert cli("analyze", "game=g1", "algo=tgda", "algo.tau=4", "algo.lr_x=0.05", "output=json")[1].strip() == \
        json.dumps(rep, allow_nan=False)
    assert not runs_root.exists() or not any(runs_root.rglob("*"))   # analyze writes no run directory


@pytest.mark.parametrize("lr, converges", [(0.1, True), (0.15, False)])
def test_step_map_radius_agrees_with_theorem4_step_bound(cli, lr, converges):
    # g1, τ = 4: J_τ = [[−6, 4], [−16, 8]], λ = 1 ± i√15, γ̄ = 2 Re λ/|λ|² = 1/8 (seed 003 Theorem 4)
    rep = analyze_json(cli, "game=g1", "algo=tgda", "algo.tau=4", f"algo.lr_x={lr}", "--json")
    a = rep["tau_star"]["algo"]
    assert a == {"tau": 4.0, "lr_x": lr, "J_tau_stable": True, "gamma_bar": pytest.approx(0.125)}
    assert (rep["spectral_radius"] < 1) == converges == rep["step_map"]["locally_convergent"]


def test_text_report(cli):
    code, out, err = cli("analyze", "game=dirac", "algo=tgda", "algo.tau=8", "algo.lr_x=0.01")
    assert code == 0, err
    assert out.startswith("minimax analyze: dirac with tgda")
    for text in ("classification        local_minimax (strict)", "spectral radius", "τ-GDA τ*              0",
                 "J_τ stable for τ in (0, ∞)"):
        assert text in out, text


def test_points_by_index_and_by_newton(cli):
    rep = analyze_json(cli, "game=torus", "point=1", "--json")
    assert rep["point"]["x"] == [pytest.approx(np.pi)] and rep["tau_star"]["value"] == pytest.approx(1.15 / 0.85)
    rep = analyze_json(cli, "game=torus", "point=[1.5,1.4]", "--json")
    assert rep["point"]["source"].startswith("Newton's method from [1.5, 1.4]")
    assert rep["point"]["x"] == [pytest.approx(1.6458668178716118)] and rep["point"]["field_norm"] < 1e-10
    assert rep["classification"]["class"] == "neither" and rep["tau_star"]["stable_intervals"] == []


def test_seed003_examples_from_the_command_line(cli):
    rep = analyze_json(cli, "game=tau_example1", "--json")
    assert rep["classification"]["class"] == "local_minimax" and rep["tau_star"]["value"] == pytest.approx(2.0)
    rep = analyze_json(cli, "game=tau_example2", "--json")
    t = rep["tau_star"]
    assert rep["classification"]["class"] == "neither" and t["value"] is None
    assert t["stable_intervals"] == [[pytest.approx(0.5), pytest.approx(2.0)]]
    assert t["instability_threshold"] == pytest.approx(2.0) and t["tau0"] == pytest.approx(6.25)


def test_bilinear_game_reports_seed004_bounds(cli):
    rep = analyze_json(cli, "game=bilinear_random", "algo=gda", "--json")
    b = rep["bilinear_bounds"]
    assert b["scope"].startswith("exact") and b["r"] == pytest.approx(0.5) and b["eps"] == 1e-6
    assert (b["T_SGA"], b["T_OMD"], b["T_PM"], b["T_IU"], b["T_CO"]) == (None, 30919, 507312, 5829, 507312)
    assert b["eta_IU"] == pytest.approx(1 / np.sqrt(b["lambda_max"])) and b["eta_PM"] == b["eta_CO"]
    rep = analyze_json(cli, "game=bilinear_random", "analyze.eps=1e-3", "analyze.r=1.0", "--json")
    assert rep["bilinear_bounds"]["T_IU"] == int(np.ceil((2 + np.sqrt(2)) * rep["bilinear_bounds"]["kappa"]
                                                         * np.log(1e3)))


def test_augmented_state_of_momentum(cli):
    rep = analyze_json(cli, "game=g1", "algo=gda", "algo.momentum=0.3", "--json")
    assert rep["step_map"]["state"] == [["x", 1], ["y", 1], ["px.delta", 1], ["py.delta", 1]]
    assert len(rep["step_jacobian_eigs"]) == 4


@pytest.mark.parametrize("args, message", [
    (["point=[1,2,3]"], "point must have dim_x + dim_y = 2 finite numbers"),
    (["point=7"], "point=7 is not a known critical point of g1 (choose 0..0: 0: (0, 0))"),
    (["point=abc"], "point must be null (the game's critical point), an index k"),
    (["output=xml"], "analyze.output must be one of text, json (got 'xml')"),
    (["analyze.eps=-1"], "analyze.eps must be a number > 0"),
    (["analyze.nope=1"], "unknown config key 'analyze.nope'"),
    (["algo.tau=1,4"], "analyze takes one configuration, not a sweep"),
    (["gamma"], "cannot parse override 'gamma'"),
    (["game=torus", "point=[0.3,2.0]", "analyze.newton_steps=1"], "did not reach a critical point"),
    (["game=covariance", "analyze.max_dim=100"], "more than analyze.max_dim = 100"),
    (["game=nope"], "unknown game 'nope'"),
])
def test_bad_input_is_one_line(cli, args, message):
    code, out, err = cli("analyze", *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("minimax: error: ") and message in lines[0], lines[0]


@pytest.mark.slow
def test_analyze_json_in_a_real_process():
    proc = run_subprocess(["analyze", "game=poly54", "algo=tgda", "point=2", "--json"])
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert set(rep) == KEYS and rep["classification"]["class"] == "local_nash" and rep["tau_star"]["value"] == 0.0
