"""The Python API, for notebooks and scripts: the CLI's commands as functions, taking the same
overrides as strings and returning Python objects instead of printing.

    from minimax_cli import api
    cfg = api.compose("game=g1", "algo=tgda", "algo.tau=4")          # the checked config a run would use
    run = api.train("game=g1", "algo=tgda", "algo.tau=4", "steps=200")
    run.status, run.summary["metrics"], run.rows()[-1]
    sweep = api.train("game=g1", "algo=gda,tgda", multirun=True)      # a list of Run
    rows = api.report(sweep[0].dir.parent, by="algo.name")            # `minimax report`'s table rows
    theory = api.analyze("game=g1", "algo=tgda", "algo.tau=4")        # `minimax analyze --json`
    old = api.load("runs/g1/gda/2026-01-01_12-00-00-000000")

Each function goes the CLI's own way (launch.start, config.prepare, cli.analysis, cli.report_table,
the reproduction engine), so a run started here is the run `minimax train` would make. Bad input
raises the CLI's one line as a MinimaxError (ConfigError, DataError, ...), never SystemExit.

A command changes its process (Hydra's global state and logging, sys.argv, signal handlers, torch's
default dtype, threads and random generators): ``_isolated`` puts back the caller's after every call,
so a notebook can call these as often as it likes.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli.errors import DataError, MinimaxError

__all__ = ["Reproduction", "Run", "analyze", "compose", "load", "report", "reproduce", "runs", "train"]

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# -- a run directory --------------------------------------------------------------------------------------
class Run:
    """One run directory, read as untrusted input (report.load_run: runfiles, runlog.read_log).

    ``dir``: the directory; ``status``: summary.json's (converged, diverged, finished, interrupted,
    failed), ``running/killed`` when it has none; ``summary``: summary.json as a dict ({} when
    absent); ``config``: the resolved config the run used (.hydra/resolved.yaml) as a dict."""

    def __init__(self, path: str | os.PathLike):
        from minimax_cli import report

        self.dir = Path(path)
        if not self.dir.is_dir():
            raise DataError(f"{path} is not a directory; give a run directory (it holds summary.json, "
                            f"metrics.jsonl or .hydra/config.yaml)")
        if report.find_run_dirs([self.dir]) != [self.dir]:
            raise DataError(f"{path} is not a run directory (it holds no summary.json, metrics.jsonl or "
                            f".hydra/config.yaml); for the runs under a folder use api.runs({str(path)!r})")
        loaded = report.load_run(self.dir)
        self.status: str = loaded.status
        self.summary: dict = loaded.summary or {}
        self.config: dict = loaded.config

    @property
    def metrics(self) -> dict:
        """summary.json's final metrics (the mean over seeds for a ``seeds=S`` run; ``summary['seeds']``
        has each seed's)."""
        return dict(self.summary.get("metrics") or {})

    def rows(self, seed: int | None = None) -> list[dict]:
        """metrics.jsonl's rows as dicts (non-finite values as floats; a torn line is skipped). A
        ``seeds=S`` run's rows carry their ``seed``; ``seed`` keeps only that seed's."""
        from minimax_cli.runlog import read_rows

        rows = [{k: _NON_FINITE.get(v, v) if isinstance(v, str) and k != "phase" else v for k, v in row.items()}
                for row in read_rows(self.dir / "metrics.jsonl")]
        return rows if seed is None else [r for r in rows if r.get("seed") == seed]

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, status={self.status!r})"


def load(path: str | os.PathLike) -> Run:
    """The run in ``path`` (a run directory, e.g. one `minimax train` printed)."""
    return Run(path)


def runs(*paths: str | os.PathLike) -> list[Run]:
    """Every run directory under ``paths`` (folders of runs, e.g. a sweep's), in natural order."""
    from minimax_cli import report

    with _isolated():
        return [Run(d) for d in report.find_run_dirs(_strings(paths, "path"))]


# -- the commands -----------------------------------------------------------------------------------------
def compose(*overrides: str):
    """The config a run of ``overrides`` would use: composed, the setup table applied, checked
    (a read-only DictConfig, without the hydra node)."""
    from minimax_cli.config import prepare
    from minimax_cli.launch import check_overrides

    overrides = _strings(overrides)
    with _isolated():
        check_overrides(overrides)
        return prepare(overrides).cfg


def train(*overrides: str, multirun: bool = False) -> Run | list[Run]:
    """`minimax train [-m] overrides...`: the Run (or, with ``multirun`` (the CLI's -m), the list of
    the sweep's runs, in job order). A run that failed or was interrupted comes back with that status
    (``summary['error']`` says why); bad input (exit status 2 in the CLI) raises its one line."""
    from minimax_cli import launch

    overrides = _strings(overrides)
    with _isolated(stop_signals=True):
        sweep_dir = None
        if multirun:
            overrides, sweep_dir = _pinned_sweep_dir(overrides)
        started = launch.start(overrides, multirun, [])
    if multirun:
        return runs(sweep_dir) if sweep_dir.is_dir() else []
    if started.code == 2 and started.errors:  # bad input found once Hydra ran the job (data, a locked run dir)
        raise MinimaxError(started.errors[-1])
    if started.run_dirs and started.run_dirs[-1].is_dir():
        return Run(started.run_dirs[-1])
    raise MinimaxError(f"the run did not start (exit status {started.code})")


def analyze(*overrides: str) -> dict:
    """`minimax analyze --json overrides...`: the analysis as the JSON object it prints."""
    from minimax_cli import cli

    overrides = _strings(overrides)
    with _isolated():
        result, _ = cli.analysis(overrides)
    return json.loads(json.dumps(result, allow_nan=False))


def report(*paths: str | os.PathLike, by=None, metric=None, status=None, plot: str | os.PathLike | None = None):
    """`minimax report PATH... [--by] [--metric] [--status] [--plot]`: its table as a report.Table,
    a list of dicts (one per group: each ``by`` key, ``runs``, a count per status, per metric
    ``m:mean``, ``m:std``, ``m:n``, ``m:inf``, ``m:nan``, ``m:missing``) with ``.by``, ``.metrics``,
    ``.notes`` (the partial runs), ``.caption`` and ``.figure`` (the ``plot`` file written, or None).
    ``by``, ``metric``, ``status``: a string (comma-separated) or a list, as the CLI's options."""
    from minimax_cli import cli
    from minimax_cli import report as rep

    paths = _strings(paths, "path")
    with _isolated():
        found, rows = cli.report_table(paths, _listed(by), _listed(metric), _listed(status), plot)
        rows.figure = rep.plot(found, rows.by, rows.metrics, plot) if plot else None
    return rows


@dataclass
class Reproduction:
    """What `minimax reproduce` left: its folder, exit status (0: every checked claim holds and every
    run succeeded), claims (rows.json's, each {text, ok, scope}), rows.json's table rows and
    table.md's text."""

    dir: Path
    code: int
    claims: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    table: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0


def reproduce(name: str, quick: bool = True, only=(), out: str | os.PathLike | None = None,
              overrides=()) -> Reproduction:
    """`minimax reproduce NAME [--quick] [--only A,B] [--out DIR] [overrides]`; ``quick`` defaults
    to the reduced setting here (minutes on a CPU). ``out``: an earlier call's folder continues it."""
    from minimax_cli import runfiles
    from minimax_cli.reproduce import engine, registry

    values = _strings(overrides)
    with _isolated(stop_signals=True):
        rep = registry.get(str(name))
        if out is None:  # chosen here (as the engine would) to know where the outputs are
            out = engine.output_dir(engine.output_name(rep, quick), None,
                                    engine.runs_root(engine.split_overrides(values)[1]))
        names = [n for item in _listed(only) or [] for n in item.split(",") if n]   # (as --only A,B)
        code = engine.run(rep, quick=quick, only=names, out=Path(out), overrides=values)
    out = Path(out).resolve()
    try:
        payload = json.loads(runfiles.read_text(out / "rows.json"))
    except (DataError, ValueError):
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    try:
        table = runfiles.read_text(out / "table.md")
    except DataError:
        table = ""
    claims = [c for c in map(_claim, payload.get("claims") or []) if c is not None]
    rows = payload.get("rows") if isinstance(payload.get("rows"), list) else []
    return Reproduction(out, code, claims, rows, table)


def _claim(item) -> dict | None:
    """One claim of rows.json as {text, ok, scope}: the reproductions write a dict or a (text, ok) pair."""
    if isinstance(item, dict) and "text" in item:
        return {"text": str(item["text"]), "ok": item.get("ok"), "scope": item.get("scope", "both")}
    if isinstance(item, (list, tuple)) and len(item) == 2:
        text = [v for v in item if isinstance(v, str)]
        ok = [v for v in item if isinstance(v, bool) or v is None]
        if len(text) == 1 and len(ok) == 1:
            return {"text": text[0], "ok": ok[0], "scope": "both"}
    return None


# -- helpers ------------------------------------------------------------------------------------------------
def _strings(values, what: str = "override") -> list[str]:
    """Overrides (or paths) as the CLI gets them: each one a string (a Path is taken as its text)."""
    out = []
    for value in values:
        if isinstance(value, (list, tuple)):
            raise MinimaxError(f"give each {what} as its own argument (api.train('game=g1', 'steps=100')), "
                               f"not a list: unpack it with *")
        if not isinstance(value, (str, os.PathLike)):
            raise MinimaxError(f"{what} {value!r} is a {type(value).__name__}; write it as a string "
                               f"('key=value')" if what == "override" else f"{what} {value!r} is not a path")
        out.append(os.fspath(value))
    return out


def _listed(value) -> list[str] | None:
    """An option's value as the CLI's repeated option: a string (comma-separated) or a list of them."""
    if value is None:
        return None
    return [str(value)] if isinstance(value, (str, os.PathLike)) else [str(v) for v in value]


def _pinned_sweep_dir(overrides: list[str]) -> tuple[list[str], Path]:
    """A sweep's folder named before it starts (its jobs may run in other processes), so that its runs
    can be found after: the user's hydra.sweep.dir, else the default one resolved now."""
    from minimax_cli.config import expand_sweeps, resolved
    from minimax_cli.launch import check_overrides
    from minimax_cli.reproduce.engine import quoted

    check_overrides(overrides)
    where = str(resolved(expand_sweeps(overrides)[0], hydra_config=True).cfg.hydra.sweep.dir)
    if any(o.split("=", 1)[0] == "hydra.sweep.dir" for o in overrides):
        return overrides, Path(where)
    return [*overrides, f"hydra.sweep.dir={quoted(where)}"], Path(where)


@contextmanager
def _isolated(stop_signals: bool = False):
    """Run one command as the CLI would in its own process, then put back what it changed here:
    sys.argv, the working directory, environment variables, Hydra's global state (GlobalHydra,
    HydraConfig), the logging configuration (Hydra's job logging replaces the root handlers and adds
    the run's minimax.log: those are closed, the caller's come back), warning filters, torch's
    default dtype, intra-op threads and random generators (torch, CUDA, numpy, random), and, with
    ``stop_signals``, the signal handlers (signals.handled: SIGINT/SIGTERM end a run as in the CLI,
    then the caller's, e.g. Jupyter's, handlers are back). SystemExit becomes a MinimaxError."""
    import logging
    import random

    import numpy as np
    import torch
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from minimax_cli import signals

    argv, cwd, environ = list(sys.argv), os.getcwd(), dict(os.environ)
    hydra, hydra_cfg = GlobalHydra.instance().hydra, HydraConfig.instance().cfg
    loggers = _logging_state()
    raise_exceptions = logging.raiseExceptions
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    rng = (torch.get_rng_state(), np.random.get_state(), random.getstate(),
           torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None)
    logging.raiseExceptions = False  # as the CLI: a full disk under the run's log is reported once
    try:
        with warnings.catch_warnings(), (signals.handled() if stop_signals else nullcontext()):
            yield
    except SystemExit as exc:  # (Hydra exits on what it cannot report otherwise)
        raise MinimaxError(f"the command stopped with exit status {exc.code}") from None
    finally:
        sys.argv[:] = argv
        os.chdir(cwd)
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update({k: v for k, v in environ.items() if os.environ.get(k) != v})
        GlobalHydra.instance().hydra = hydra
        HydraConfig.instance().cfg = hydra_cfg
        _restore_logging(loggers)
        logging.raiseExceptions = raise_exceptions
        if torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.set_rng_state(rng[0])
        np.random.set_state(rng[1])
        random.setstate(rng[2])
        if rng[3] is not None:
            torch.cuda.set_rng_state_all(rng[3])


def _logging_state() -> dict:
    import logging

    named = [logging.getLogger(n) for n, x in list(logging.Logger.manager.loggerDict.items())
             if isinstance(x, logging.Logger)]
    return {lg: (list(lg.handlers), lg.level, lg.propagate, lg.disabled, list(lg.filters))
            for lg in [logging.getLogger(), *named]}


def _restore_logging(saved: dict) -> None:
    """The loggers as they were; handlers added meanwhile (Hydra's console and minimax.log) closed.
    A logger made during the call keeps its own (a library's default handler, e.g. optuna's, is made
    once per process: taking it away would silence that library for the rest of the session)."""
    kept = {id(h) for handlers, *_ in saved.values() for h in handlers}
    for lg in saved:
        for handler in list(lg.handlers):
            if id(handler) not in kept:
                lg.removeHandler(handler)
                try:
                    handler.close()
                except Exception:  # noqa: BLE001  (a full disk under the log: nothing left to report it to)
                    pass
        handlers, level, propagate, disabled, filters = saved[lg]
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate, lg.disabled, lg.filters[:] = propagate, disabled, filters
