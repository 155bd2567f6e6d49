"""The benchmark scripts run (small sizes): `make bench` is not in CI, its pieces are."""

import time

import pytest
import torch

from scripts import bench_lead, bench_starts


def test_bench_starts_runner_agrees_with_the_hand_vectorized_loop(capsys):
    """bench_starts refuses to print a ratio when the runner's iterates and the hand loop's differ
    (SystemExit); a spread of starts exercises the frozen (diverged, converged) ones too."""
    threads = torch.get_num_threads()
    try:
        assert bench_starts.main(["--starts", "200", "--steps", "40", "--repeat", "1", "--radius", "3", "--tol", "1e-6"]) == 0
    finally:
        torch.set_num_threads(threads)   # the script pins one thread for its timings
    out = capsys.readouterr().out
    assert "| gda |" in out and "| fr |" in out


@pytest.mark.parametrize("algo", ["gda", "lead_adam"])
def test_bench_lead_steps_run_at_askari_hemmat_2023s_scale(algo):
    step = bench_lead.minimax_step(algo)
    step()
    step()


def test_bench_lead_preconditioner_cases_run():
    cases = bench_lead.precond_cases(1000)
    times = bench_lead.interleave(cases, 1, 1, time.process_time)
    assert "| rmsprop |" in bench_lead.precond_table(times)
