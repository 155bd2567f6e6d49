"""What a run says while it runs: phase lines, periodic progress, a bar on a terminal (progress.py)."""

import io
import logging
import sys
import time

import pytest

from minimax_cli import progress
from minimax_cli.errors import ConfigError
from tests.conftest import run_subprocess


@pytest.fixture
def lines(caplog):
    """The messages the minimax logger gets (the console and minimax.log both get these)."""
    caplog.set_level(logging.INFO, logger="minimax")
    yield lambda: [r.getMessage() for r in caplog.records if r.name == "minimax"]
    progress.configure(True)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_a_phase_says_it_starts_reports_progress_and_ends(lines, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    progress.configure(0.05, label="#2 ")
    with progress.phase("FID statistics", total=40, unit="images", detail="once") as p:
        p.update(10)
        p.set_note("w1 0.5")
        assert wait_for(lambda: any(": 10/40 images (25%)" in m for m in lines()))
    said = lines()
    assert said[0] == "#2 FID statistics (40 images): once"
    tick = next(m for m in said if "10/40" in m)
    assert tick.startswith("#2 FID statistics: 10/40 images (25%), ") and "images/s" in tick and "left" in tick
    assert tick.endswith("| w1 0.5")
    assert said[-1].startswith("#2 FID statistics: done, 10 images in ")


def test_a_blocking_phase_still_reports_and_only_the_innermost_phase_ticks(lines):
    progress.configure(0.05)
    with progress.phase("training", total=100):
        with progress.phase("FID at step 10", total=8, unit="images"):
            assert wait_for(lambda: sum("FID at step 10: 0/8" in m for m in lines()) >= 2)
            # the outer phase is paused while the inner one runs
            assert not any(m.startswith("training: ") for m in lines())
    assert lines()[-1].startswith("training: done, ")


def test_short_phases_say_only_that_they_start_and_progress_false_says_nothing(lines):
    progress.configure(True)
    with progress.phase("figures", unit="figures") as p:
        p.update()
    assert lines() == ["figures"]
    progress.configure(False)
    with progress.phase("figures"):
        pass
    assert lines() == ["figures"] and not progress.enabled()


def test_no_done_line_when_the_phase_fails(lines):
    progress.configure(0.01)
    with pytest.raises(RuntimeError):
        with progress.phase("reading CIFAR-10 train"):
            time.sleep(0.05)
            raise RuntimeError("boom")
    assert not any("done" in m for m in lines())


def test_on_a_terminal_a_bar_shows_progress_and_the_lines_go_to_the_log_file_only(lines, monkeypatch):
    err = io.StringIO()
    err.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress, "BAR_DELAY", 0.0)
    progress.configure(0.05)
    console = logging.StreamHandler(io.StringIO())
    console.addFilter(progress.ConsoleFilter())
    logging.getLogger("minimax").addHandler(console)
    try:
        with progress.phase("training g1/gda", total=50) as p:
            p.update(20)
            assert wait_for(lambda: any("20/50" in m for m in lines()))
    finally:
        logging.getLogger("minimax").removeHandler(console)
    assert "training g1/gda:" in err.getvalue() and "/50 [" in err.getvalue()      # the bar (tqdm)
    shown = console.stream.getvalue().splitlines()
    assert shown[0] == "training g1/gda (50 steps)" and not any("20/50" in s for s in shown)
    assert shown[-1].startswith("training g1/gda: done, 20 steps in ")


@pytest.mark.parametrize("value, seconds", [(True, 10.0), (False, 0.0), (None, 0.0), (2, 2.0), (0.5, 0.5), (0, 0.0)])
def test_progress_values(value, seconds):
    assert progress.interval_of(value) == seconds


@pytest.mark.parametrize("value", ["often", -1, float("nan")])
def test_a_bad_progress_value_is_one_line(value, cli):
    with pytest.raises(ConfigError, match="progress must be true, false or seconds"):
        progress.interval_of(value)
    code, _, err = cli("train", f"progress={value}", "steps=2")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "progress must be" in err


def test_durations():
    assert [progress.duration(s) for s in (0.42, 9.96, 12.4, 143, 3725)] == ["0.4s", "10.0s", "12s", "2m23s", "1h02m"]


@pytest.mark.slow
def test_a_gan_run_with_fid_says_what_it_does_when_stderr_is_not_a_terminal(tmp_path):
    """The issue's case: an image GAN whose setup computes FID statistics of the real data (minutes
    on a CPU with the real network) printed nothing until training. Now the run dir comes first,
    then each phase with progress lines, on the console and in minimax.log."""
    run = tmp_path / "run"
    proc = run_subprocess(["train", "game=mnist", "game.dataset=synthetic", "game.synthetic_size=24",
                           "game.generator.latent_dim=4", "game.generator.dim=2", "game.discriminator.dim=2",
                           "game.batch.size=4", "game.metrics.grid=4", "game.metrics.fid_every=4",
                           "game.metrics.fid.weights=random", "game.metrics.fid.samples=8",
                           "game.metrics.fid.batch_size=4", f"game.metrics.fid.stats_dir={tmp_path / 'stats'}",
                           "algo=gda", "steps=4", "log_every=2", "tensorboard=false", "progress=0.3",
                           f"hydra.run.dir={run}"], env_extra={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    console = [line.removeprefix("[minimax] ") for line in proc.stderr.splitlines() if line.startswith("[minimax]")]
    assert console[0] == f"run dir: {run}"
    starts = ["loading the FID Inception network", "FID statistics of the real images (24 images): once per dataset",
              "training mnist/gda (4 steps)", "FID at step 4 (8 images)", "figures", "finished after 4 steps"]
    at = [next(i for i, line in enumerate(console) if line.startswith(s)) for s in starts]
    assert at == sorted(at), console
    assert any(line.startswith("FID statistics of the real images: ") and "/24 images" in line for line in console)
    assert any(line.startswith("loading the FID Inception network (weights: random): done, ") for line in console)
    logged = [line.split("] ", 1)[-1] for line in (run / "minimax.log").read_text().splitlines()]
    assert [line for line in logged if line in console] == [line for line in console if line in logged]
    assert all(line in logged for line in console)
