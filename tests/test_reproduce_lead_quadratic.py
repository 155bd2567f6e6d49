"""`minimax reproduce lead-quadratic --quick`: LEAD's spectral study on quadratic games, runs through the CLI."""

import json
import math

import numpy as np
import pytest

from minimax_cli.reproduce import lead_quadratic as lq
from tests.reproduce_command import reproduce


def test_closed_forms_by_hand():
    """Spot values of the closed forms the study checks the real step maps against."""
    s = lq.sigmas()
    A = np.array(lq.A_COUPLING)
    np.testing.assert_allclose(np.sort(s**2), np.sort(np.linalg.eigvalsh(A @ A.T)))
    # GDA, Eq. 20: |1 − ηh ∓ iησ_max|
    assert lq.closed_rho("gda", 0.5, 0.1) == pytest.approx(math.hypot(1 - 0.05, 0.1 * s.max()), rel=1e-14)
    # LEAD with α = 0, β = 0 is GDA (Theorem 2's second root is 0)
    assert lq.closed_rho("lead", 0.5, 0.1, 0.0) == pytest.approx(lq.closed_rho("gda", 0.5, 0.1), rel=1e-14)
    # alternating negative momentum: the numpy matrix is the map of its rule, step by step
    rng = np.random.default_rng(0)
    x, y, dx, dy = (rng.normal(size=2) for _ in range(4))
    h, eta, beta = 0.3, 0.2, -0.5
    M = lq.alternating_momentum_matrix(h, eta, beta)
    dx1 = beta * dx - eta * (h * x + A @ y)
    x1 = x + dx1
    dy1 = beta * dy - eta * (h * y - A.T @ x1)
    np.testing.assert_allclose(M @ np.concatenate([x, y, dx, dy]), np.concatenate([x1, y + dy1, dx1, dy1]), rtol=1e-14)


@pytest.mark.slow
def test_quick_lead_quadratic_reproduction(tmp_path):
    out = tmp_path / "lq"
    code = reproduce(["lead-quadratic", "--quick", "--out", str(out)])
    text = (out / "table.md").read_text()
    assert code == 0, text
    assert "✗" not in text and text.count("* ✓") == 9
    spectra = json.loads((out / "spectra.json").read_text())
    gda0, lead0 = spectra["h=0/gda"], spectra["h=0/lead"]
    assert min(gda0["rho"]) > 1 > lead0["best_rho"]                       # bilinear: GDA never, LEAD converges
    np.testing.assert_allclose(lead0["rho"], lead0["rho_closed"], atol=1e-10)
    np.testing.assert_allclose(spectra["h=0/lead_eta"]["rho"], spectra["h=0/ogda"]["rho"], atol=1e-12)  # = OGDA at h = 0
    lines = [line for line in text.splitlines() if line.startswith("| 0 | LEAD α tuned")]
    assert len(lines) == 1 and lines[0].split("|")[-2].strip() == "converged"
    summary = json.loads(next((out / "runs" / "h0_lead").glob("*/summary.json")).read_text())
    assert summary["algo_params"]["lr_x"] == pytest.approx(lead0["best_eta"])
    assert summary["status"] == "converged" and summary["stop_step"] < 400
    assert (out / "lead_quadratic.png").stat().st_size > 20_000
