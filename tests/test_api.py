"""The Python API (minimax_cli.api): the CLI's commands as functions, many calls in one process
leaving the caller's process as it was."""

import json
import logging
import os
import random
import signal
import sys
import types

import numpy as np
import pytest
import torch

from minimax_cli import api
from minimax_cli.errors import ConfigError, DataError, MinimaxError

QUICK = ("plot=false", "tensorboard=false")
_FIRST_LOGGERS: set = set()


def _process_state():
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    # the loggers that were there before keep their handlers; a logger first made by a library the run
    # imported (torch's, optuna's) keeps its own default handler, but none holds a file of a run's
    everyone = {name: lg for name, lg in logging.Logger.manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    loggers = {name: list(lg.handlers) for name, lg in everyone.items() if name in _FIRST_LOGGERS}
    files = sorted(name for name, lg in everyone.items() if any(isinstance(h, logging.FileHandler) for h in lg.handlers))
    return {"root handlers": list(logging.getLogger().handlers), "root level": logging.getLogger().level,
            "handlers": loggers, "file handlers": files, "argv": list(sys.argv), "cwd": os.getcwd(),
            "hydra": GlobalHydra.instance().hydra, "hydra cfg": HydraConfig.instance().cfg,
            "dtype": torch.get_default_dtype(), "threads": torch.get_num_threads(),
            "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)},
            "environ": dict(os.environ)}


def test_many_calls_in_one_process_leave_it_as_it_was(runs_root, capsys, monkeypatch):
    """train ×3, then compose, analyze, report: every line logged once, and the caller's handlers,
    argv, cwd, Hydra state, dtype, threads, RNG and signal handlers unchanged after each call."""
    def caller_handler(signum, frame):  # e.g. Jupyter's SIGINT handler
        pass

    previous = {s: signal.signal(s, caller_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    mine = logging.StreamHandler(sys.stdout)
    logging.getLogger().addHandler(mine)
    monkeypatch.setattr(sys, "argv", ["notebook", "--flag"])
    try:
        torch.manual_seed(123)
        np.random.seed(7)
        random.seed(5)
        _FIRST_LOGGERS.update(logging.Logger.manager.loggerDict)
        before = _process_state()
        rng = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
        made = []
        for seed in range(3):
            run = api.train("game=g1", "steps=30", f"seed={seed}", *QUICK)
            err = capsys.readouterr().err
            assert err.count("training g1/gda (30 steps)") == 1, err   # not once per earlier call
            assert _process_state() == before
            assert run.status == "finished" and run.dir.is_dir()
            made.append(run)
        assert len({r.dir for r in made}) == 3
        cfg = api.compose("game=g1", "algo=tgda", "algo.tau=4")
        theory = api.analyze("game=g1", "algo=tgda", "algo.tau=4")
        rows = api.report(runs_root)
        assert _process_state() == before
        assert torch.equal(torch.get_rng_state(), rng[0]) and np.array_equal(np.random.get_state()[1], rng[1])
        assert random.getstate() == rng[2]
        assert mine in logging.getLogger().handlers and len(logging.getLogger().handlers) == len(before["root handlers"])
        assert signal.getsignal(signal.SIGINT) is caller_handler
        logging.getLogger("notebook").warning("the caller's own line")   # its handler still writes, once
        assert capsys.readouterr().out.count("the caller's own line") == 1
    finally:
        logging.getLogger().removeHandler(mine)
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert cfg.algo.tau == 4 and cfg.game.name == "g1" and "hydra" not in cfg
    assert theory["game"] and json.dumps(theory, allow_nan=False)
    assert rows[0]["runs"] == 3 and rows[0]["finished"] == 3


def test_a_run_reads_back_what_the_cli_wrote(runs_root):
    run = api.train("game=g3", "steps=40", "log_every=10", *QUICK)
    summary = json.loads((run.dir / "summary.json").read_text())
    assert run.summary == summary and run.metrics == summary["metrics"] and run.status == summary["status"]
    lines = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert run.rows() == lines and [r["step"] for r in run.rows()] == [0, 10, 20, 30, 40]
    assert run.config["game"]["name"] == "g3" and run.config["steps"] == 40
    again = api.load(run.dir)
    assert again.rows() == run.rows() and again.summary == run.summary


def test_a_sweep_is_a_list_of_runs_and_report_rows_are_the_cli_table(runs_root, cli, capsys):
    sweep = api.train("game=g1", "algo=gda,tgda", "steps=20", *QUICK, multirun=True)
    capsys.readouterr()
    assert [r.config["algo"]["name"] for r in sweep] == ["gda", "tgda"]
    folder = sweep[0].dir.parent
    assert [r.dir for r in api.runs(folder)] == [r.dir for r in sweep]
    rows = api.report(folder, by="algo.name", metric=["dist_to_eq"], plot=runs_root / "curves.png")
    assert [r["algo.name"] for r in rows] == ["gda", "tgda"] and rows.metrics == ["dist_to_eq"]
    assert rows.figure.is_file()
    from minimax_cli import report

    code, out, _ = cli("report", str(folder), "--by", "algo.name", "--metric", "dist_to_eq")
    assert code == 0 and out == report.to_markdown(rows)


def test_bad_input_raises_the_cli_line_never_exits(runs_root, capsys):
    with pytest.raises(ConfigError, match="unknown game 'nope'"):
        api.train("game=nope")
    with pytest.raises(MinimaxError, match="cannot parse override 'steps'"):
        api.compose("steps")
    with pytest.raises(MinimaxError, match="not a list"):
        api.train(["game=g1"])
    with pytest.raises(MinimaxError, match="is a int"):
        api.compose("game=g1", 3)
    with pytest.raises(MinimaxError, match="add -m"):
        api.train("game=g1,g2")
    with pytest.raises(MinimaxError, match="not a sweep"):
        api.analyze("game=g1,g2")
    with pytest.raises(ConfigError, match="unknown status"):
        api.report(runs_root.parent, status="done")
    with pytest.raises(MinimaxError, match="unknown reproduction"):
        api.reproduce("nope")
    assert not runs_root.exists() or not any(runs_root.rglob("summary.json"))


def test_bad_data_found_while_setting_up_raises_and_a_failed_run_comes_back(runs_root, tmp_path, capsys):
    """Bad data found only while the run sets up: the CLI's line as an exception, no run left; a run
    that fails later (a bug in a game's metric) is a Run with status failed and the reason."""
    with pytest.raises(MinimaxError, match=r"^game.data: .*absent.npy"):
        api.train("game=mog", f"game.data={tmp_path / 'absent.npy'}", "steps=2", *QUICK)
    assert not runs_root.exists() or not any(runs_root.rglob("metrics.jsonl"))
    from conftest import REPO

    run = api.train(f"hydra.searchpath=[file://{REPO}/tests/conf]", "game=failing", "steps=30", *QUICK)
    assert run.status == "failed" and "deliberate failure at step 10" in run.summary["error"]
    assert run.rows() and run.rows()[-1]["step"] < 10      # what it logged before it failed


def test_an_old_run_is_untrusted_input(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(DataError, match="not a run directory"):
        api.load(run)
    with pytest.raises(DataError, match="not a directory"):
        api.load(tmp_path / "absent")
    rows = [{"step": 0, "wall_time_s": 0.1, "seed": 0, "x": 1.0}, {"step": 0, "wall_time_s": 0.1, "seed": 1, "x": "nan"}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 1, "x":')
    loaded = api.load(run)
    assert loaded.status == "running/killed" and loaded.summary == {}
    assert [r["seed"] for r in loaded.rows()] == [0, 1] and np.isnan(loaded.rows(seed=1)[0]["x"])
    assert loaded.rows(seed=0) == [rows[0]]
    os.mkfifo(run / "summary.json")   # would block a plain open() forever
    with pytest.raises(DataError, match="not a regular file"):
        api.load(run)


def test_a_notebook_gets_tqdm_auto_bar(monkeypatch):
    """In a Jupyter kernel a phase's bar is tqdm.auto's (a widget where ipywidgets is installed)."""
    from tqdm.auto import tqdm as auto_tqdm

    from minimax_cli import progress

    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert progress.in_notebook() and progress.bar_class() is auto_tqdm
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.in_notebook() and progress.bar_class() is None


def test_the_api_page_runs(tmp_path):
    """docs/api.md's python blocks, in order, as one script (tiny g1 runs; the runs root in tmp_path)."""
    import re
    import subprocess

    from conftest import REPO

    page = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert len(blocks) >= 8, "the walkthrough: compose, train, rows, sweep, report, analyze, load, reproduce"
    script = tmp_path / "walkthrough.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "MINIMAX_RUNS": str(tmp_path / "runs"),     # (this checkout's minimax_cli, from tmp_path)
           "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "refused: " in proc.stdout and "Traceback" not in proc.stderr
    assert (tmp_path / "runs" / "g1" / "tgda").is_dir() and not (tmp_path / "runs").is_symlink()
