"""The installation checks (python -m minimax_cli.selfcheck): their own logic, without the runs."""

from minimax_cli.selfcheck import environment
from minimax_cli.selfcheck.devices import rel


def test_version_ranges_come_from_pyproject_and_are_checked_without_packaging():
    assert environment.requirement("torch").startswith(">=")
    assert environment.requirement("python") == ">=3.10"
    assert environment.satisfies("2.14.1+cu130", ">=2.2,<3") and not environment.satisfies("2.1.0", ">=2.2")
    assert environment.satisfies("3.10.12", ">=3.10") and not environment.satisfies("3.9.18", ">=3.10")


def test_versions_only_prints_the_versions(capsys):
    assert environment.main(["--versions"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("python ") and "torch " in out and "smoke:" not in out


def test_relative_difference_of_two_devices_numbers():
    assert rel(1.0, 1.0) == 0.0 and rel(float("nan"), 1.0) == float("inf")
    assert abs(rel(1.0, 1.0 + 1e-12) - 1e-12) < 1e-15
