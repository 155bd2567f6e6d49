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
    assert "✗" not in text and text.count("* ✓") == 9 - 1 + 7   # Prop. 3 (h = 0, 2), Theorem 3 (3), Fig. 9 (γ = 1, 6)
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
    # Prop. 3, Theorem 3 and Fig. 9 as they truly stand (docs/claims.md, sections 1-3), on the real step maps
    th, smax = spectra["theory"], float(lq.sigmas().max())
    assert th["prop3"]["0.0"]["edge"] == pytest.approx(1 / smax, abs=1e-6)             # not 2/σ_max
    assert th["prop3"]["2.0"]["edge"] == pytest.approx(1 / math.hypot(2.0, smax), abs=1e-6)
    assert th["theorem3"]["rho"] == pytest.approx(3.9681187850686, abs=1e-9)           # η = α = 2/σ_max diverges
    assert th["theorem3"]["edge"] == pytest.approx(1 / (math.sqrt(3) * smax), abs=1e-6)
    assert th["fig9"]["6.0"]["ogda_001"] == pytest.approx(0.8941984052873, abs=1e-10)
    assert th["fig9"]["6.0"]["ogda_edge"] == pytest.approx(1 / 18, abs=1e-6)


def test_prop3_theorem3_fig9_closed_forms():
    """The derivations behind docs/claims.md, sections 1-3, against finite differences and bisections of the
    closed forms (Theorem 2's roots; OGDA's characteristic polynomial)."""
    smax = float(lq.sigmas().max())
    for h in (0.0, 0.5, 2.0):
        for eta in (0.2, 0.6, 1.0, 1.5):
            d = 1e-7
            fd = (lq.closed_rho("lead", h, eta, d) - lq.closed_rho("lead", h, eta, -d)) / (2 * d)
            assert lq.prop3_slope(h, eta) == pytest.approx(fd, abs=1e-6)
        edge = lq.prop3_edge(h)
        assert lq.prop3_slope(h, edge * (1 - 1e-6)) < 0 < lq.prop3_slope(h, edge * (1 + 1e-6))
    # h = 0: the exact slope −ησ²(1 − η²σ²)/(1 + η²σ²)^{3/2}; the paper's Eq. 59 expansion (η³σ⁴/4 − ησ²) is another
    eta = 0.5
    assert lq.prop3_slope(0.0, eta) == pytest.approx(-eta * smax**2 * (1 - eta**2 * smax**2) / (1 + eta**2 * smax**2) ** 1.5)
    edge = lq.theorem3_edge_closed()
    assert lq.closed_rho("lead_eta", 0.0, edge * (1 - 1e-9)) < 1 < lq.closed_rho("lead_eta", 0.0, edge * (1 + 1e-9))
    for gamma in (1.0, 6.0, 20.0):
        e = 1 / (3 * gamma)
        assert lq.fig9_ogda_rho(gamma, e * (1 - 1e-9)) < 1 < lq.fig9_ogda_rho(gamma, e * (1 + 1e-9))
