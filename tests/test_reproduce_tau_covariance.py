"""`minimax reproduce tau-covariance --quick`: Fiez & Ratliff 2021, App. K.6 through the real CLI."""

import json

import numpy as np
import pytest

from minimax_cli.reproduce import tau_covariance
from tests.reproduce_command import reproduce


def test_covariance_jacobian_matches_the_closed_form():
    """spec J_τ(σ, 0) = (τμ ± √(τ²μ² − 16τσ²))/2, real from τ = 16σ²/μ² on (App. K.6)."""
    for mu in (0.5, 1.0):
        for tau in (1.0, 16 * tau_covariance.SIGMA2 / mu**2, 40.0):
            got = np.sort_complex(tau_covariance.eigenvalues(mu, tau))
            assert np.allclose(got, np.sort_complex(tau_covariance.closed_form(mu, tau)), atol=1e-6)


@pytest.mark.slow
def test_quick_tau_covariance_reproduction(tmp_path):
    out = tmp_path / "out"
    assert reproduce(["tau-covariance", "--quick", "--out", str(out)]) == 0
    data = json.loads((out / "rows.json").read_text())
    assert all(c["ok"] for c in data["claims"])
    rows = {(r["mu"], r["tau"]): r for r in data["rows"]}
    assert set(rows) == {(0.75, 25), (1.0, 25)}
    assert not rows[(0.75, 25)]["real"] and rows[(0.75, 25)]["turns"] >= 0.5
    assert rows[(1.0, 25)]["real"] and rows[(1.0, 25)]["turns"] < 0.5
    assert rows[(1.0, 25)]["dist"] > rows[(0.75, 25)]["dist"]
    assert (out / "tau_covariance.png").stat().st_size > 20_000
