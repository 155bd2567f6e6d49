"""`minimax reproduce tau-poly --quick`: Fiez & Ratliff 2021, App. K.2–K.3 through the real CLI, and the
closed forms its claims rest on."""

import json

import numpy as np
import pytest

from minimax_cli.reproduce import tau_poly
from tests.reproduce_command import reproduce


def test_origin_of_k2_is_stable_only_between_one_half_and_two():
    """Example 2 (v = 5) at the origin of Eq. 53: the game's Jacobian has the closed-form spectrum and
    the guard map's roots are ½ and 2 (the paper prints (0, 2))."""
    from minimax_cli.metrics import tau_star

    J = tau_poly.jacobian_at("poly53", [0.0, 0.0], [0.0, 0.0])
    for tau in (0.1, 0.5, 1.0, 1.87, 2.0, 6.0):
        lam = np.linalg.eigvals(tau_star.tau_jacobian(J, 2, tau))
        assert tau_poly._spectral_gap(lam, tau_poly.example2_closed_form(tau)) < 1e-12
    assert tau_star.stable_intervals(J, 2, tau_star.guard_roots(J, 2)) == [(pytest.approx(0.5), pytest.approx(2.0))]
    assert not tau_star.is_stable(J, 2, 0.25) and tau_star.is_stable(J, 2, 0.75) and not tau_star.is_stable(J, 2, 3.0)
    lo, hi = tau_poly.discrete_range(5e-4)   # the paper's γ1: the discrete map is stable on (0.50031, 1.99750)
    assert lo == pytest.approx(1 / 1.99875) and hi == pytest.approx(2 / 1.00125)


@pytest.mark.slow
def test_quick_tau_poly_reproduction(tmp_path):
    out = tmp_path / "out"
    assert reproduce(["tau-poly", "--quick", "--out", str(out)]) == 0
    data = json.loads((out / "rows.json").read_text())
    assert all(c["ok"] for c in data["claims"] if c["scope"] == "both")
    k2 = {r["tau"]: r for r in data["k2"]}
    assert k2[0.75]["dist_origin"] < 0.05 and k2[0.25]["dist_origin"] > 1 and k2[5]["dist"] < 1e-6
    (k3,) = data["k3"]
    assert k3["tau"] == 2 and k3["nearest"].startswith("DSE (-1.62") and k3["dist"] < 1e-3
    sweep = {r["tau"]: r["reaches"] for r in data["k3_sweep"]}
    assert sweep[2.0].startswith("DSE (-1.62") and sweep[1.0].startswith("DNE") and sweep[3.0].startswith("DSE (-11.03")
    assert (out / "tau_poly.png").stat().st_size > 20_000
