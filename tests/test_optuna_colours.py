"""optuna's own log lines carry colour codes only on a terminal: none in a pipe or a log file."""

import pytest

from tests.conftest import run_subprocess


@pytest.mark.slow
def test_an_optuna_sweep_into_a_pipe_writes_no_colour_codes(tmp_path):
    proc = run_subprocess(["train", "-m", "hparams_search=toy_tgda", "hydra.sweeper.n_trials=1", "steps=5",
                           "plot=false", "tensorboard=false"], env_extra={"MINIMAX_RUNS": str(tmp_path / "runs")})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "A new study created in memory with name: toy_tgda" in out   # optuna's own line, plain
    assert "\x1b[" not in out


def test_optuna_keeps_its_colours_on_a_terminal(monkeypatch):
    import logging

    from hydra_plugins.minimax_sweepers.optuna_log import colours_only_on_a_terminal

    monkeypatch.delenv("NO_COLOR", raising=False)   # (colorlog's own switches)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    colours_only_on_a_terminal()
    import colorlog

    # optuna's own handler(s) (another test in this process may have added a second stream handler)
    handlers = [h for h in logging.getLogger("optuna").handlers
                if isinstance(h, logging.StreamHandler) and isinstance(h.formatter, colorlog.ColoredFormatter)]
    assert handlers
    record = logging.LogRecord("optuna", logging.INFO, __file__, 1, "study", None, None)
    for handler in handlers:
        monkeypatch.setattr(handler.stream, "isatty", lambda: True, raising=False)
        assert "\x1b[" in handler.formatter.format(record)
        monkeypatch.setattr(handler.stream, "isatty", lambda: False, raising=False)
        assert "\x1b[" not in handler.formatter.format(record)
