"""`minimax report`: run directories -> tables (markdown, CSV) and metric curves (PNG).

    from minimax_cli import report
    runs = report.collect_runs(["runs/multirun/2026-01-01_12-00-00-000000"])
    rows = report.table(runs, by=["game.name", "algo.name"], metrics=["dist_to_eq"])
    print(report.to_markdown(rows))
    report.to_csv(rows, "table.csv")
    report.plot(runs, ["game.name", "algo.name"], ["dist_to_eq"], "curves.png")

A run directory is one that holds ``summary.json``, ``metrics.jsonl`` or ``.hydra/config.yaml``.
Its status is ``summary.json``'s (converged, diverged, finished, interrupted, failed); a run with
no summary is reported as ``running/killed`` (it is still going, or died without writing one:
from the files alone the two cannot be told apart); a run whose summary.json or config cannot be
read (garbage, a torn copy) is ``unreadable``: counted, listed under the table with the reason,
never fatal to the report. A multi-seed run (``seeds=S``) counts as its S
seeds, each a ``Run`` of its own (``Run.seed``): its status, summary entry, config ``seed`` and the
metrics.jsonl rows with its ``seed`` field, exactly as if the seeds had been separate runs.

Numbers, per group of runs and metric:
- the *final value* of a run is ``summary.json``'s ``metrics[m]``, or else the last row of
  ``metrics.jsonl`` that holds ``m`` (a killed or failed run keeps what it logged);
- ``mean`` and ``std`` are taken over the finite final values only; ``std`` is the sample standard
  deviation (ddof = 1), undefined (empty) with fewer than two finite values;
- non-finite values are never dropped silently: ``:inf`` and ``:nan`` count them, ``:missing``
  counts runs without the metric, and the markdown cell says so (``1.2 ± 0.3 [1 inf]``);
- partial runs (failed, interrupted, running/killed) are included with their last logged value and
  listed under the table; select complete runs with ``status=["converged", "diverged", "finished"]``;
- *derived* metrics (``table(..., derived={name: fn})``) are computed from each run by ``fn(run)``:
  a number, None (missing), or a sequence of numbers (one sample each, e.g. per start of a
  vectorized run), and the statistics pool the samples of the group's runs.

Layouts: ``to_markdown(rows)`` writes one line per group; ``to_markdown(rows, columns=[...])``
chooses and orders its columns, custom cells included; ``pivot(rows, index, columns, cell)`` spreads
one ``by`` key over the columns (game × algorithm).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from minimax_cli import runfiles
from minimax_cli.errors import ConfigError, DataError
from minimax_cli.metrics.objective import objective_value  # noqa: F401  (report.objective_value)
from minimax_cli.runlog import STATUSES, read_rows

RUNNING_OR_KILLED = "running/killed"
ALL_STATUSES = STATUSES + (RUNNING_OR_KILLED,)
#: a run whose summary.json (or config) cannot be read: a column only when present, listed under
#: the table, never fatal
UNREADABLE = "unreadable"
#: statuses whose metrics are the values at a planned end of the run (converged/diverged runs are
#: frozen from their stopping step on)
COMPLETE = ("converged", "diverged", "finished")
DEFAULT_BY = ("game.name", "algo.name")
#: metrics shown when none are asked for: those of this list that some run has
PREFERRED_METRICS = ("w1", "fid", "kl", "dist_to_eq", "grad_norm/x", "grad_norm/y")
MISSING = "—"
_RUN_MARKS = ("summary.json", "metrics.jsonl")


# -- one run -------------------------------------------------------------------------------------------
@dataclass
class Run:
    """What one run directory holds: status, resolved config, summary and (lazily) its metric rows."""

    path: Path
    status: str
    config: dict = field(default_factory=dict)
    summary: dict | None = None
    _history: list | None = field(default=None, repr=False)
    seed: int | None = None      # one seed of a multi-seed run (its directory is ``path``)

    @property
    def where(self) -> str:
        """The run for people: its directory, and which seed of it."""
        return str(self.path) if self.seed is None else f"{self.path} [seed {self.seed}]"

    @property
    def files(self) -> Path:
        """Where the run's own files are (figures, samples.npz): a seed's are in seeds/<seed>/."""
        return self.path if self.seed is None else self.path / "seeds" / str(self.seed)

    @property
    def history(self) -> list[dict]:
        """The rows of metrics.jsonl (non-finite values as floats; a torn last line is skipped)."""
        if self._history is None:
            self._history = read_rows(self.path / "metrics.jsonl")
        return self._history

    def get(self, key: str):
        """A dot path into the resolved config (``algo.lr_x``); else into summary.json
        (``algo_params.lr_y``, ``n_starts``); ``status`` and ``run`` (the directory) are special."""
        return self._find(key)[1]

    def has(self, key: str) -> bool:
        """Whether ``key`` is in this run's config or summary (its value may be null)."""
        return self._find(key)[0]

    def _find(self, key: str):
        if key == "status":
            return True, self.status
        if key == "run":
            return True, self.where
        found, value = _lookup(self.config, key)
        if not found and self.summary:
            found, value = _lookup(self.summary, key)
        return found, (_hashable(value) if found else None)

    def final(self, metric: str) -> float | None:
        """The run's last value of ``metric`` (summary first, then the last metrics.jsonl row)."""
        metrics = (self.summary or {}).get("metrics") or {}
        if metric in metrics:
            return _to_float(metrics[metric])
        for row in reversed(self.history):
            if metric in row:
                return _to_float(row[metric])
        return None

    def metric_names(self) -> list[str]:
        """The summary's metrics; for a run without them (killed, failed), those it logged."""
        names = dict.fromkeys((self.summary or {}).get("metrics") or {})
        if not names:
            for row in self.history:
                names.update(dict.fromkeys(k for k in row if k not in ("step", "wall_time_s")))
        return list(names)

    def overrides(self) -> list[str]:
        """The keys the run's command line set (``algo.tau`` of ``algo.tau=4``; ``game`` of ``game=g3``)."""
        saved = (self.summary or {}).get("overrides")
        if saved is None:
            file = self.path / ".hydra" / "overrides.yaml" if self.path is not None else None
            try:
                saved = runfiles.load_yaml(file) if file is not None and file.exists() else []
            except DataError:
                saved = []
        return [str(o).split("=", 1)[0].lstrip("+~") for o in saved or [] if "=" in str(o)]

    def curve(self, metric: str):
        """(steps, values) of ``metric`` from metrics.jsonl as float arrays (missing values: nan)."""
        import numpy as np

        rows = [r for r in self.history if "step" in r and metric in r]
        steps = np.array([float(r["step"]) for r in rows])
        values = np.array([_to_float(r[metric]) for r in rows], dtype=float)
        return steps, values


def load_run(path: str | os.PathLike) -> Run:
    """Read one run directory (see the module docstring for what counts as one)."""
    path = Path(path)
    summary = None
    if (path / "summary.json").exists():
        try:
            summary = json.loads(runfiles.read_text(path / "summary.json"))
        except ValueError as exc:
            raise DataError(f"cannot read {path / 'summary.json'} ({exc})") from None
        if not isinstance(summary, dict):
            raise DataError(f"{path / 'summary.json'} is not a JSON object")
        if summary.get("status", STATUSES[0]) not in STATUSES or not isinstance(summary.get("metrics", {}), dict):
            raise DataError(f"{path / 'summary.json'} is not a minimax summary (status one of "
                            f"{', '.join(STATUSES)}, metrics an object)")
    status = str(summary.get("status", RUNNING_OR_KILLED)) if summary is not None else RUNNING_OR_KILLED
    return Run(path=path, status=status, config=_read_config(path), summary=summary)


def load_runs(path: str | os.PathLike) -> list[Run]:
    """The runs of one directory: itself, or each seed of a multi-seed run (``split_seeds``)."""
    return split_seeds(load_run(path))


def split_seeds(run: Run) -> list[Run]:
    """A multi-seed run as one Run per seed (the module docstring); any other run as itself.

    A seed's summary is the run's with the seed's own entry (status, step, metrics) in place of
    the per-seed list and the statistics over seeds. Without an entry (the run failed or was
    killed), the seed has the run's status and its metrics are the last of its own rows."""
    entries = {e.get("seed"): e for e in (run.summary or {}).get("seeds") or [] if isinstance(e, dict)}
    seeds = list(entries) or _configured_seeds(run.config)
    if not seeds:
        return [run]
    rows: dict = {}
    for row in run.history:
        rows.setdefault(row.get("seed"), []).append(row)
    out = []
    for seed in seeds:
        summary = None
        if run.summary is not None:
            shared = ("seeds", "metrics", "metrics_std", "n_seeds", "fraction_converged", "fraction_diverged")
            summary = {k: v for k, v in run.summary.items() if k not in shared}
            summary.update(entries.get(seed, {}))
        status = str(summary.get("status", run.status)) if summary is not None else run.status
        config = {**run.config, "seed": seed}
        out.append(Run(path=run.path, status=status, config=config, summary=summary,
                       _history=rows.get(seed, []), seed=seed))
    return out


def _configured_seeds(config: dict) -> list[int]:
    seeds, seed = config.get("seeds", 1), config.get("seed", 0)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > 1 and isinstance(seed, int):
        return list(range(seed, seed + seeds))
    return []


def _read_config(path: Path) -> dict:
    from omegaconf import OmegaConf

    from minimax_cli.catalog import contained  # (also registers the ${mul:...} resolver config.yaml uses)

    for name, resolve in (("resolved.yaml", False), ("config.yaml", True)):
        file = path / ".hydra" / name
        if not file.exists():
            continue
        loaded = runfiles.load_yaml(file)
        try:
            node = OmegaConf.create(loaded if loaded is not None else {})
        except Exception as exc:  # noqa: BLE001  (omegaconf raises many kinds)
            raise DataError(f"cannot read {file} ({' '.join(str(exc).split())})") from None
        plain = OmegaConf.to_container(node, resolve=False)
        if not resolve:
            return plain
        try:  # only interpolations within the file: ${oc.env:TOKEN} stays that text, never the token
            return OmegaConf.to_container(OmegaConf.create(contained(plain)), resolve=True)
        except Exception:  # noqa: BLE001  an interpolation that cannot resolve here: keep it as text
            return plain
    return {}


def _is_run_dir(path: Path) -> bool:
    return any((path / mark).is_file() for mark in _RUN_MARKS) or (path / ".hydra" / "config.yaml").is_file()


def find_run_dirs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Every run directory under ``paths`` (a path may itself be a run directory)."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ConfigError(f"no such file or directory: {raw}")
        if path.is_file():
            if path.name not in _RUN_MARKS:
                raise ConfigError(f"{raw} is a file; give run directories or folders holding them")
            path = path.parent
        for root, dirs, _ in os.walk(path):
            here = Path(root)
            if _is_run_dir(here):
                found[here] = None
                dirs[:] = []  # a run's own sub-folders (.hydra, checkpoints) hold no runs
            else:
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found, key=lambda p: _natural_key(str(p)))


def collect_runs(paths: Iterable[str | os.PathLike], status: Sequence[str] | None = None) -> list[Run]:
    """Load every run under ``paths``; ``status`` keeps only runs with one of these statuses."""
    paths = list(paths)
    if not paths:
        raise ConfigError("give at least one path (a run directory or a folder of runs, e.g. runs/)")
    wanted = _check_statuses(status)
    dirs = find_run_dirs(paths)
    if not dirs:
        raise ConfigError(f"no runs under {', '.join(map(str, paths))} "
                          f"(a run directory holds summary.json, metrics.jsonl or .hydra/config.yaml)")
    runs = [run for d in dirs for run in split_seeds(_load_or_unreadable(d))]
    if wanted is not None:
        runs = [r for r in runs if r.status in wanted]
    return runs


def _load_or_unreadable(path: Path) -> Run:
    """One run; a run whose files are garbage (a torn copy, an edited summary) is kept with status
    ``unreadable`` and the reason, so one bad directory never hides the others."""
    try:
        return load_run(path)
    except DataError as exc:
        try:
            config = _read_config(path)
        except DataError:
            config = {}
        return Run(path=path, status=UNREADABLE, config=config, summary={"error": str(exc)})


def _check_statuses(status: Sequence[str] | None) -> set[str] | None:
    if not status:
        return None
    names = {s.strip() for item in status for s in str(item).split(",") if s.strip()}
    bad = sorted(names - set(ALL_STATUSES) - {UNREADABLE})
    if bad:
        raise ConfigError(f"unknown status {bad[0]!r} (allowed: {', '.join(ALL_STATUSES + (UNREADABLE,))})")
    return names


# -- the table -------------------------------------------------------------------------------------------
class Table(list):
    """The rows (dicts, one per group) plus what they were built from; a list, so scripts can
    index and iterate it. Row keys: each ``by`` key, ``runs``, each status in ``statuses``, and per
    metric ``m:mean``, ``m:std``, ``m:n`` (finite values), ``m:inf``, ``m:nan``, ``m:missing``."""

    def __init__(self, rows, by, metrics, statuses, notes=(), caption=""):
        super().__init__(rows)
        self.by, self.metrics, self.statuses, self.notes = list(by), list(metrics), list(statuses), list(notes)
        #: how the groups were chosen, when they were chosen automatically (``sweep_axes``)
        self.caption = caption

    def columns(self) -> list[str]:
        stats = [f"{m}:{s}" for m in self.metrics for s in ("mean", "std", "n", "inf", "nan", "missing")]
        return self.by + ["runs"] + self.statuses + stats


def default_metrics(runs: Sequence[Run]) -> list[str]:
    """The metrics of PREFERRED_METRICS some run has; if none, every logged metric but costs."""
    present = dict.fromkeys(m for r in runs for m in r.metric_names())
    chosen = [m for m in PREFERRED_METRICS if m in present]
    return chosen or [m for m in present if not m.startswith(("cost/", "algo/"))]


def group_runs(runs: Sequence[Run], by: Sequence[str]) -> list[tuple[tuple, list[Run]]]:
    """Runs grouped by the values of the ``by`` keys, groups in natural order of those values."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(run.get(k) for k in by), []).append(run)
    return sorted(groups.items(), key=lambda kv: tuple(_value_key(v) for v in kv[0]))


# -- which keys to group by -------------------------------------------------------------------------------
#: config keys never grouped by: replicates (their runs are averaged) and settings that do not change
#: a run's result (where it is written, how often it logs or draws, resuming)
REPLICATES = ("seed", "seeds")
BOOKKEEPING = ("hydra", "runs_root", "resume", "progress", "plot", "plot_starts", "seed_figures", "tensorboard", "logger", "checkpoint_every",
               "log_every", "metrics_every", "objective", "hardware.threads", "hardware.timeout_s", "analyze", "point")


def _flat_keys(tree, prefix: str = "") -> list[str]:
    """The dot paths of the leaves of a config (lists are leaves)."""
    if not isinstance(tree, dict) or not tree:
        return [prefix[:-1]] if prefix else []
    return [k for key, value in tree.items() for k in _flat_keys(value, f"{prefix}{key}.")]


def _under(key: str, roots: Sequence[str]) -> bool:
    return any(key == r or key.startswith(r + ".") for r in roots)


def _splits(runs: Sequence[Run], by: Sequence[str], key: str) -> bool:
    """Whether ``key`` takes two values inside one group of runs grouped by ``by``."""
    seen: dict[tuple, object] = {}
    for run in runs:
        group, value = tuple(run.get(k) for k in by), run.get(key)
        if seen.setdefault(group, value) != value:
            return True
    return False


def sweep_axes(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """The keys that tell the runs apart, and the replicate keys averaged over.

    Groups are (game.name, algo.name) refined by every config key whose value still differs inside
    a group: a sweep's axes (``algo.tau=1,4``), not the keys that merely come with a game or an
    algorithm (its own parameters), nor one determined by the axes already chosen (``algo.lr_y``
    interpolated from ``algo.tau``). Keys the command lines set are tried first, so an axis is named
    as the user wrote it. Seeds are replicates and bookkeeping keys change no result (``REPLICATES``,
    ``BOOKKEEPING``): those never split a group.
    """
    runs = list(runs)
    by = [k for k in DEFAULT_BY if any(r.has(k) for r in runs)] or list(DEFAULT_BY)
    typed = dict.fromkeys(k for r in runs for k in r.overrides())
    keys = dict.fromkeys(k for r in runs for k in _flat_keys(r.config))
    candidates = [k for k in typed if k in keys] + [k for k in keys if k not in typed]
    for key in candidates:
        if key not in by and not _under(key, REPLICATES + BOOKKEEPING) and _splits(runs, by, key):
            by.append(key)
    averaged = [k for k in keys if _under(k, REPLICATES) and len({r.get(k) for r in runs}) > 1]
    return by, averaged


def axes_caption(runs: Sequence[Run], by: Sequence[str], averaged: Sequence[str]) -> str:
    """The sentence above an automatically grouped table: the axes found beyond game and algorithm,
    and the replicates averaged ("" when there are neither)."""
    extra = [k for k in by if k not in DEFAULT_BY]
    if not extra and not averaged:
        return ""
    why = [f"{', '.join(extra)}: the config key{'s' if len(extra) > 1 else ''} whose values differ "
           f"across the {len(runs)} runs"] if extra else []
    why += [f"mean ± std over {k} ({len({r.get(k) for r in runs})} values)" for k in averaged]
    return f"Grouped by {', '.join(by)} ({'; '.join(why)}; --by to choose)."


#: a derived metric: run -> a number, None (missing) or a sequence of numbers (samples)
Derived = Callable[[Run], "float | Sequence[float] | None"]


def table(runs: Sequence[Run], by: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
          derived: Mapping[str, Derived] | None = None) -> Table:
    """One row per group of runs: count, status counts, and per metric the statistics of the
    final values (module docstring).

    ``derived`` maps extra metric names to functions of a run (a number, None, or a sequence of
    samples that are pooled over the group); they come after ``metrics`` in the table. With
    ``derived`` and no ``metrics``, the table holds the derived metrics only.
    """
    runs = list(runs)
    by, caption = _split(by), ""
    if not by:
        by, averaged = sweep_axes(runs)
        caption = axes_caption(runs, by, averaged)
    _check_keys(runs, by)
    derived = dict(derived or {})
    metrics = _split(metrics) or ([] if derived else default_metrics(runs))
    _check_metrics(runs, metrics)
    clash = [m for m in derived if m in metrics]
    if clash:
        raise ConfigError(f"derived metric {clash[0]!r} is also asked for as a logged metric; rename it")
    seen = dict.fromkeys(r.status for r in runs)
    statuses = list(ALL_STATUSES) + [s for s in seen if s not in ALL_STATUSES]
    rows = []
    for values, members in group_runs(runs, by):
        row = dict(zip(by, values))
        row["runs"] = len(members)
        for status in statuses:
            row[status] = sum(r.status == status for r in members)
        for metric in metrics:
            row.update(_stats(metric, [r.final(metric) for r in members]))
        for name, fn in derived.items():
            row.update(_stats(name, [v for r in members for v in _samples(fn(r))]))
        rows.append(row)
    partial = [r for r in runs if r.status not in COMPLETE]
    notes = [_note(r) for r in partial]
    return Table(rows, by, metrics + list(derived), statuses, notes, caption)


def _samples(value) -> list[float | None]:
    """A derived metric's value as samples: None -> [None]; a number -> [x]; a sequence -> its items."""
    if value is None:
        return [None]
    if isinstance(value, (str, bytes)):
        raise ConfigError(f"a derived metric returned text ({value!r}); return a number, None or numbers")
    try:
        items = list(value)
    except TypeError:
        return [_to_float(value)]
    return [None if v is None else _to_float(v) for v in items]


def _stats(metric: str, values: list[float | None]) -> dict:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    mean = math.fsum(finite) / n if n else None
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else None
    return {
        f"{metric}:mean": mean,
        f"{metric}:std": std,
        f"{metric}:n": n,
        f"{metric}:inf": sum(v is not None and math.isinf(v) for v in values),
        f"{metric}:nan": sum(v is not None and math.isnan(v) for v in values),
        f"{metric}:missing": sum(v is None for v in values),
    }


def _note(run: Run) -> str:
    last = run.history[-1].get("step") if run.history else None
    where = f"last logged step {last}" if last is not None else "nothing logged"
    error = (run.summary or {}).get("error")
    return f"{run.status}: {run.where} ({where}{'; ' + str(error) if error else ''})"


def _check_keys(runs: Sequence[Run], by: Sequence[str]) -> None:
    for key in by:
        if not any(r.has(key) for r in runs):
            top = sorted({str(k) for r in runs for k in r.config})
            raise ConfigError(f"--by key {key!r} is in none of the {len(runs)} runs' configs "
                              f"(dot paths into .hydra/config.yaml, e.g. game.name, algo.lr_x, seed; "
                              f"top-level keys: {', '.join(top)})")


def _check_metrics(runs: Sequence[Run], metrics: Sequence[str]) -> None:
    present = dict.fromkeys(m for r in runs for m in r.metric_names())
    for metric in metrics:
        if metric not in present:
            raise ConfigError(f"metric {metric!r} is in none of the {len(runs)} runs "
                              f"(available: {', '.join(present) or 'none'})")


# -- writers ------------------------------------------------------------------------------------------------
#: a column of ``to_markdown(columns=...)``: a key of the table, or (header, row -> cell text)
Column = "str | tuple[str, Callable[[dict], str]]"


def to_markdown(rows: Table, path: str | os.PathLike | None = None, columns: Sequence[Column] | None = None) -> str:
    """A markdown table: the ``by`` values, run and status counts, and ``mean ± std`` per metric
    with non-finite and missing values counted beside it; partial runs are listed below. Written
    to ``path`` when given. Returns the text.

    ``columns`` chooses the columns and their order: a ``by`` key (its value), ``runs``, a status
    (its count), ``status`` (``status_text``), a metric (``metric_cell``), or a pair
    ``(header, fn)`` whose cell is ``fn(row)`` (a custom cell: any text computed from the row).
    """
    if columns is None:
        # the five statuses of summary.json always; running/killed (or any other) only when present
        statuses = [s for s in rows.statuses if s in STATUSES or any(row[s] for row in rows)]
        columns = rows.by + ["runs"] + statuses + rows.metrics
    specs = [_column(rows, c) for c in columns]
    lines = [rows.caption, ""] if rows.caption else []
    lines += ["| " + " | ".join(_escape(h) for h, _, _ in specs) + " |",
             "|" + "|".join("---" if left else "---:" for _, _, left in specs) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_escape(fn(row)) for _, fn, _ in specs) + " |")
    if rows.notes:
        lines += ["", f"{len(rows.notes)} partial run(s), metrics are their last logged values:"]
        lines += [f"- {note}" for note in rows.notes[:50]]
        if len(rows.notes) > 50:
            lines.append(f"- … and {len(rows.notes) - 50} more")
    text = "\n".join(lines) + "\n"
    if path is not None:
        _write(path, text)
    return text


def _column(rows: Table, column) -> tuple[str, Callable[[dict], str], bool]:
    """(header, row -> text, left-aligned) of one ``to_markdown`` column."""
    if isinstance(column, tuple):
        if len(column) != 2 or not isinstance(column[0], str) or not callable(column[1]):
            raise ConfigError(f"a custom column is a pair (header, function of the row); got {column!r}")
        header, fn = column
        return header, lambda row: str(fn(row)), True
    if column in rows.by:
        return column, lambda row: _display(row[column]), True
    if column == "runs" or column in rows.statuses:
        return column, lambda row: str(row[column]), False
    if column == "status":
        return column, lambda row: status_text(row, rows.statuses), True
    if column in rows.metrics:
        return column, lambda row: metric_cell(row, column), False
    raise ConfigError(f"column {column!r} is not in the table (by keys: {', '.join(rows.by)}; runs, status, "
                      f"the statuses; metrics: {', '.join(rows.metrics) or 'none'}; or a pair (header, function))")


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def status_text(row: dict, statuses: Sequence[str] = ALL_STATUSES) -> str:
    """The statuses of a group's runs in words: ``converged`` when all share one, else
    ``2 converged, 1 diverged``."""
    counts = [(s, row.get(s, 0)) for s in statuses if row.get(s, 0)]
    if len(counts) == 1 and counts[0][1] == row.get("runs"):
        return counts[0][0]
    return ", ".join(f"{n} {s}" for s, n in counts) or "no runs"


def pivot(rows: Table, index: str | Sequence[str], columns: str, cell: str | Callable[[dict], str],
          path: str | os.PathLike | None = None, corner: str | None = None,
          row_order: Sequence | None = None, column_order: Sequence | None = None) -> str:
    """A markdown table with the values of ``by`` key ``columns`` spread over the columns (e.g.
    algorithm × game): one line per value of ``index`` (a ``by`` key or several), one column per
    value of ``columns``, each cell ``cell`` of the group at that place — a metric name
    (``metric_cell``) or a function of the row; "—" where no group is. ``corner`` heads the index
    column(s); ``row_order``/``column_order`` fix the order (values of ``index``, a tuple of values
    when it is several keys; of ``columns``); else the table's natural order. Written to ``path``
    when given. Returns the text."""
    index = _split(index)
    for key in index + [columns]:
        if key not in rows.by:
            raise ConfigError(f"pivot key {key!r} is not a by key of the table ({', '.join(rows.by)})")
    if columns in index:
        raise ConfigError(f"pivot: {columns!r} cannot be both the index and the columns")
    if isinstance(cell, str):
        if cell not in rows.metrics:
            raise ConfigError(f"pivot cell {cell!r} is not a metric of the table ({', '.join(rows.metrics) or 'none'})")
        metric = cell
        cell = lambda row: metric_cell(row, metric)  # noqa: E731
    places: dict[tuple, dict] = {}
    for row in rows:
        key = (tuple(row[k] for k in index), row[columns])
        if key in places:
            others = [k for k in rows.by if k not in index and k != columns]
            raise ConfigError(f"pivot: several groups at {key} (group the table by {', '.join(index + [columns])} "
                              f"only, or add {', '.join(others)} to the index)")
        places[key] = row
    unwrap = (lambda v: v[0]) if len(index) == 1 else (lambda v: v)  # noqa: E731
    index_values = list(dict.fromkeys(unwrap(k[0]) for k in places))
    column_values = list(dict.fromkeys(k[1] for k in places))
    index_values = _ordered(index_values, row_order, "row_order")
    column_values = _ordered(column_values, column_order, "column_order")
    heads = [corner] if corner is not None and len(index) == 1 else list(corner or index)
    header = heads + [_display(c) for c in column_values]
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |",
             "|" + "|".join(["---"] * len(heads) + ["---"] * len(column_values)) + "|"]
    for value in index_values:
        key = (value,) if len(index) == 1 else tuple(value)
        cells = [_display(v) for v in key]
        cells += [MISSING if (key, c) not in places else str(cell(places[(key, c)])) for c in column_values]
        lines.append("| " + " | ".join(_escape(c) for c in cells) + " |")
    text = "\n".join(lines) + "\n"
    if path is not None:
        _write(path, text)
    return text


def _ordered(values: list, order: Sequence | None, name: str) -> list:
    if order is None:
        return values
    order = [tuple(v) if isinstance(v, list) else v for v in order]
    unknown = [v for v in values if v not in order]
    if unknown:
        raise ConfigError(f"pivot {name} lacks {unknown[0]!r}, which the table has")
    return [v for v in order if v in values]


def metric_cell(row: dict, metric: str) -> str:
    """``mean ± std`` of a metric in a table row, with non-finite and missing values counted
    (``1.2 ± 0.3 [1 inf]``); "—" when there is no finite value."""
    mean, std = row[f"{metric}:mean"], row[f"{metric}:std"]
    text = MISSING if mean is None else _num(mean) + ("" if std is None else f" ± {_num(std)}")
    flags = [f"{row[f'{metric}:{kind}']} {kind}" for kind in ("inf", "nan", "missing") if row[f"{metric}:{kind}"]]
    return text + (f" [{', '.join(flags)}]" if flags else "")


def to_csv(rows: Table, path: str | os.PathLike | None = None) -> str:
    """The table as CSV (``Table.columns()``; full float precision, empty for undefined); written
    to ``path`` when given. Returns the text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = rows.columns()
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _csv_value(row[c]) for c in columns])
    text = buffer.getvalue()
    if path is not None:
        _write(path, text)
    return text


def _csv_value(value):
    if isinstance(value, float):
        return repr(value)
    return _display(value)


def _write(path, text: str) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise DataError(f"cannot write {path} ({exc.strerror or exc})") from None


# -- curves --------------------------------------------------------------------------------------------------
def group_curve(runs: Sequence[Run], metric: str):
    """(steps, mean, min, max, count) of one group's ``metric`` on the union of logged steps.

    Between two logged steps a run holds its last value; past its last step a converged or diverged
    run holds it too (it is frozen there), any other run drops out. Non-finite values are left out.
    """
    import numpy as np

    curves = [(run, *run.curve(metric)) for run in runs]
    steps = np.unique(np.concatenate([c[1] for c in curves] + [np.empty(0)]))
    grid = np.full((len(curves), len(steps)), np.nan)
    for i, (run, s, v) in enumerate(curves):
        if len(s) == 0:
            continue
        idx = np.searchsorted(s, steps, side="right") - 1
        inside = idx >= 0
        if run.status not in ("converged", "diverged"):
            inside &= steps <= s[-1]
        grid[i, inside] = v[idx[inside]]
    finite = np.isfinite(grid)
    count = finite.sum(0)
    safe = np.where(finite, grid, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, safe.sum(0) / np.maximum(count, 1), np.nan)
    low = np.where(count > 0, np.where(finite, grid, np.inf).min(0), np.nan)
    high = np.where(count > 0, np.where(finite, grid, -np.inf).max(0), np.nan)
    return steps, mean, low, high, count


#: the two panels of a metric when some runs diverged: a diverged run's curve (up to diverge_norm,
#: ~1e6) would flatten every other curve on a shared axis
PANELS = ("not diverged", "diverged")


def curve_panels(runs: Sequence[Run], by: Sequence[str], metric: str) -> dict[str, list[tuple]]:
    """What ``plot`` draws for one metric: per panel (``PANELS``; a single "all runs" panel when no
    run diverged), the curves ``(group values, members, steps, mean, low, high)`` of the groups that
    have finite values there, each group's runs split by panel."""
    import numpy as np

    split = any(r.status == "diverged" for r in runs)
    panels: dict[str, list[tuple]] = {name: [] for name in (PANELS if split else ("all runs",))}
    for values, members in group_runs(runs, by):
        for name in panels:
            inside = [r for r in members if name == "all runs" or (r.status == "diverged") == (name == "diverged")]
            if not inside:
                continue
            steps, mean, low, high, _ = group_curve(inside, metric)
            if np.isfinite(mean).any():
                panels[name].append((values, inside, steps, mean, low, high))
    return panels


def _style(i: int, n: int) -> tuple:
    """(colour, line style) of the i-th of n groups: distinct for up to 20 groups, then dashed."""
    if n <= 10:
        return f"C{i}", "-"
    from matplotlib import colormaps

    return colormaps["tab20"](i % 20), ("-", "--", ":", "-.")[i // 20 % 4]


#: metrics that count something (modes of a mixture): their axes get integer ticks only
INTEGER_METRICS = ("modes_covered",)


def identical_curves(curves: list[tuple]) -> list[list[tuple]]:
    """``curve_panels``' curves of one panel, those that are exactly equal (steps, mean and band,
    NaN equal to NaN) put together, in order of first appearance: identical curves drawn one over
    the other would hide all but the last."""
    import numpy as np

    merged: list[list[tuple]] = []
    for curve in curves:
        for same in merged:
            if all(np.array_equal(a, b, equal_nan=True) for a, b in zip(same[0][2:], curve[2:])):
                same.append(curve)
                break
        else:
            merged.append([curve])
    return merged


def curves_figure(runs: Sequence[Run], by: Sequence[str] | None, metrics: Sequence[str] | None):
    """The matplotlib Figure that ``plot`` writes."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from minimax_cli.plots import integer_ticks

    runs = list(runs)
    by = _split(by) or sweep_axes(runs)[0]
    _check_keys(runs, by)
    metrics = _split(metrics) or default_metrics(runs)
    _check_metrics(runs, metrics)
    groups = [values for values, _ in group_runs(runs, by)]
    colors = {values: _style(i, len(groups)) for i, values in enumerate(groups)}
    columns = 2 if any(r.status == "diverged" for r in runs) else 1
    fig = Figure(figsize=(7.5 if columns == 1 else 12, 2.8 * len(metrics) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(metrics), columns, squeeze=False)
    for row, metric in zip(axes, metrics):
        for ax, (name, curves) in zip(row, curve_panels(runs, by, metric).items()):
            drawn = []
            for same in identical_curves(curves):
                labels = [" / ".join(_display(v) for v in values) + f" (n={len(members)})"
                          for values, members, *_ in same]
                label = labels[0] if len(same) == 1 else f"{len(same)} identical: {', '.join(labels)}"
                values, _, steps, mean, low, high = same[0]
                color, dashes = colors[values]
                ax.plot(steps, mean, color=color, ls=dashes, lw=1.5, label=label)
                ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
                drawn.append(np.concatenate([low[np.isfinite(low)], high[np.isfinite(high)]]))
            values = np.concatenate(drawn) if drawn else np.empty(0)
            if values.size and values.min() > 0 and values.max() / values.min() > 1e3:
                ax.set_yscale("log")  # norms and distances that span decades
            elif metric in INTEGER_METRICS:
                integer_ticks(ax)
            ax.set_ylabel(metric)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            if columns > 1:
                ax.set_title(f"{name} runs" if name != "all runs" else name, fontsize=8)
            if drawn:
                ax.legend(fontsize=7, title=" / ".join(by), title_fontsize=7)
            else:
                ax.text(0.5, 0.5, f"no finite {metric} values", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("mean over runs, band: min–max; identical curves are drawn once", fontsize=9)
    return fig


def plot(runs: Sequence[Run], by: Sequence[str] | None, metrics: Sequence[str] | None,
         path: str | os.PathLike) -> Path:
    """One row of panels per metric: each group's mean curve vs step with its min–max band, to a
    PNG; diverged runs get a panel of their own (``curve_panels``), a group keeps its colour in both;
    groups whose curves are identical are one line named after all of them (``identical_curves``)."""
    fig = curves_figure(runs, by, metrics)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise DataError(f"cannot write {path} ({exc.strerror or exc})") from None
    return path


# -- small helpers ---------------------------------------------------------------------------------------------
def _split(keys) -> list[str]:
    if keys is None:
        return []
    if isinstance(keys, str):
        keys = [keys]
    return [k.strip() for item in keys for k in str(item).split(",") if k.strip()]


def _lookup(tree, key: str):
    node = tree
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _to_float(value) -> float:
    try:
        return float(value)  # summary.json and metrics.jsonl write non-finite floats as "nan", "inf"
    except (TypeError, ValueError):
        return math.nan


def _natural_key(text: str):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text)]


def _value_key(value):
    if value is None:
        return (2, 0, [])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, [])
    return (1, 0, _natural_key(_display(value)))


def _display(value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_display(v) for v in value) + "]"
    return str(value)


def _num(x: float) -> str:
    return f"{x:.4g}"
