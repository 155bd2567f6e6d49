"""`minimax reproduce tau-torus --quick`: Fiez & Ratliff 2021, App. K.4 through the real CLI."""

import json
import math

import numpy as np
import pytest

from minimax_cli.reproduce import tau_torus
from tests.reproduce_command import reproduce


def test_torus_distance_and_classes():
    assert tau_torus.torus_distance([2 * math.pi, -2 * math.pi], (0.0, 0.0)) == pytest.approx(0.0, abs=1e-12)
    assert tau_torus.torus_distance([-math.pi + 1e-6, math.pi], (math.pi, math.pi)) == pytest.approx(1e-6, abs=1e-9)
    assert tau_torus.classify(np.array([[1e-5, 0.0], [3 * math.pi, -math.pi], [1.0, 1.0]])) == ["(0, 0)", "(π, π)", "none"]


@pytest.mark.slow
def test_quick_tau_torus_reproduction(tmp_path):
    out = tmp_path / "out"
    assert reproduce(["tau-torus", "--quick", "--out", str(out)]) == 0
    data = json.loads((out / "rows.json").read_text())
    assert all(c["ok"] for c in data["claims"])
    reached = {(r["tau"], tuple(r["start"])): r["reaches"] for r in data["rows"]}
    # the dynamics' assignment, the text's swapped (Fiez & Ratliff 2021, App. K.4)
    assert reached == {(2, (2.0, -1.0)): "(0, 0)", (5, (2.0, -1.0)): "(π, π)",
                       (2, (1.9, -2.1)): "(0, 0)", (5, (1.9, -2.1)): "(0, 0)"}
    assert (out / "tau_torus.png").stat().st_size > 20_000
