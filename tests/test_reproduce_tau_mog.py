"""`minimax reproduce tau-mog --quick`: Fiez & Ratliff 2021, App. K.7.1 through the real CLI."""

import json

import pytest

from minimax_cli.reproduce import tau_mog
from minimax_cli.reproduce.engine import Claim
from tests.reproduce_command import reproduce


def test_fig12_claims_on_made_up_rows():
    """The full setting's claims read the rows the way Fig. 12's text does."""
    s = tau_mog.FULL
    mean = {4: 3.0, 8: 1.0, 16: 0.5, 32: 0.8, 64: 1.2, 100: 4.0}
    rows = [{"tau": t, "mu": mu, "seeds": 50, "finite": 50, "mean": mean[t] - (0.2 if mu else 0) - (2 if mu and t == 100 else 0),
             "sem": 0.1, "median": mean[t]} for mu in s["mu"] for t in s["tau"]]
    claims = tau_mog.check(rows, s)
    assert all(isinstance(c, Claim) and c.ok for c in claims), [c.text for c in claims if not c.ok]
    rows[0]["finite"] = 49
    assert not tau_mog.check(rows, s)[0].ok


@pytest.mark.slow
def test_quick_tau_mog_reproduction(tmp_path):
    out = tmp_path / "out"
    assert reproduce(["tau-mog", "--quick", "--out", str(out)]) == 0
    data = json.loads((out / "rows.json").read_text())
    assert {(r["tau"], r["mu"]) for r in data["rows"]} == {(8, 0.1), (32, 0.1)}
    assert all(r["seeds"] == 2 and r["finite"] == 2 for r in data["rows"])
    assert (out / "tau_mog_fig12.png").stat().st_size > 20_000
