"""`minimax reproduce lead-games`: Askari Hemmat et al. 2023, Fig. 3 (the cooperative–adversarial game of Eq. 31),
every method's tuned spectral radius from the tool's step maps, checked against closed forms."""

import json
import math

import numpy as np
import pytest

from minimax_cli.reproduce import lead_games as lg
from tests.reproduce_command import reproduce


def test_the_game_is_eq31_with_the_public_codes_matrices():
    g = lg.gammas_of(0.7)
    assert g[0] == 0.0 and g[-1] == 0.7 and ((0 <= g) & (g <= 0.7)).all()
    np.testing.assert_allclose(g[1:-1], np.random.RandomState(0).uniform(0, 0.7, 7)[1:-1])
    maps = lg.StepMaps(0.7)
    from minimax_cli.metrics import spectrum
    import torch

    zero = torch.zeros(lg.N, dtype=torch.float64)
    J = spectrum.game_jacobian(maps.game, zero, zero)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(J)), np.sort_complex(lg.field_eigs(0.7)), atol=1e-12)


@pytest.mark.parametrize("name, params", [
    ("gda", {"lr_x": 0.3}), ("eg", {"lr_x": 0.4, "lookahead": 0.2}), ("ogda", {"lr_x": 0.15}),
    ("pm", {"lr_x": 0.3, "momentum": 0.4}), ("nm", {"lr_x": 0.3, "momentum": -0.3}),
    ("cm", {"lr_x": 0.2, "beta_abs": 0.7, "beta_arg": 1.2}), ("lead", {"lr_x": 0.2, "alpha": 0.15, "momentum": 0.2})])
def test_each_step_map_has_its_closed_form_radius(name, params):
    for gamma_max in (0.0, 0.6, 1.0):
        assert lg.StepMaps(gamma_max).rho(name, params) == pytest.approx(lg.closed_rho(name, gamma_max, params), abs=1e-12)


@pytest.mark.slow
def test_quick_lead_games_reproduction(tmp_path):
    out = tmp_path / "lg"
    code = reproduce(["lead-games", "--quick", "--out", str(out)])
    text = (out / "table.md").read_text()
    assert code == 0, text
    assert "✗" not in text and text.count("* ✓") == 7
    rows = {(r["gamma_max"], r["method"]): r for r in json.loads((out / "rows.json").read_text())["rows"]}
    kappa = 16.0
    assert rows[(0.0, "gda")]["rho"] == pytest.approx((kappa - 1) / (kappa + 1), abs=2e-3)
    assert rows[(0.0, "pm")]["rho"] == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1), abs=2e-2)
    assert all(rows[(1.0, n)]["rho"] >= 1 - 1e-9 for n in ("gda", "pm", "nm"))
    assert all(rows[(1.0, n)]["rho"] < 1 for n in ("lead", "eg", "ogda", "cm"))
    assert all(abs(r["rho"] - r["rho_closed"]) < 1e-10 for r in rows.values())
    assert (out / "lead_games.png").stat().st_size > 10_000
