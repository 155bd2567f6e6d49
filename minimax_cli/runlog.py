"""What a run leaves in its directory: metrics.jsonl, TensorBoard events, summary.json, and the
copies it sends to the experiment trackers of ``logger=`` (trackers/).

metrics.jsonl is appended and flushed line by line, so a run killed at any point keeps every
step it logged; summary.json is written atomically (temp file + rename).

A multi-seed run (``seeds=S``) writes one row per seed and log step, with a ``seed`` field; its
TensorBoard events are per seed, in seeds/<seed>/ (TensorBoard shows the seeds as runs), and its
summary holds each seed's last values (``seed_summaries``).
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from minimax_cli.trackers import Trackers, TrackerSettings

log = logging.getLogger("minimax")

STATUSES = ("converged", "diverged", "finished", "interrupted", "failed")


def _clean(value):
    """JSON-safe scalars: non-finite floats become strings ('nan', 'inf', '-inf')."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def seed_statistics(per_seed: list[dict]) -> tuple[dict, dict]:
    """(mean, std) over seeds of each scalar some seed has, from the finite values only (std: the
    sample standard deviation, ddof = 1, as `minimax report`; nan below two finite values)."""
    mean, std = {}, {}
    for key in dict.fromkeys(k for values in per_seed for k in values):
        finite = [float(v[key]) for v in per_seed if key in v and math.isfinite(float(v[key]))]
        n = len(finite)
        mean[key] = math.fsum(finite) / n if n else math.nan
        std[key] = math.sqrt(math.fsum((v - mean[key]) ** 2 for v in finite) / (n - 1)) if n > 1 else math.nan
    return mean, std


def read_rows(path: Path) -> list[dict]:
    """metrics.jsonl's rows ([] when there is no file); a line that is not a row as RunLog writes
    them (torn by a kill mid-write, not UTF-8, not a JSON object, no integer step, a value that is
    not a number) is skipped."""
    return read_log(path)[0]


def read_log(path: Path) -> tuple[list[dict], list[int]]:
    """(the well-formed rows, the line numbers of the lines skipped)."""
    path = Path(path)
    if not path.is_file():
        return [], []
    rows, skipped = [], []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                row = json.loads(raw.decode("utf-8"))
            except ValueError:  # (UnicodeDecodeError is one)
                row = None
            if _well_formed(row):
                rows.append(row)
            elif raw.strip():
                skipped.append(number)
    return rows, skipped


def _warn_gap(path: Path, rows: list[dict], resume_step: int) -> None:
    """A log that stops well before the checkpoint it continues lost rows (a file cut short): say so,
    as those steps will not be run again."""
    steps = sorted({r["step"] for r in rows if r.get("phase") == (rows[-1].get("phase") if rows else None)})
    spacing = min((b - a for a, b in zip(steps, steps[1:])), default=1)
    last = steps[-1] if steps else 0
    if resume_step - last > spacing:
        log.warning("%s has no rows after step %d but the checkpoint is at step %d: the rows between were lost "
                    "(the file was cut) and are not recomputed", path, last, resume_step)


_TEXT_FIELDS = ("phase",)
_NON_FINITE = ("nan", "inf", "-inf")


def _well_formed(row) -> bool:
    if not isinstance(row, dict) or not _is_int(row.get("step")) or row["step"] < 0:
        return False
    if "seed" in row and not _is_int(row["seed"]):
        return False
    for key, value in row.items():
        if key in ("step", "seed"):
            continue
        if key in _TEXT_FIELDS:
            if not isinstance(value, str):
                return False
        elif not (isinstance(value, (int, float)) and not isinstance(value, bool)) and value not in _NON_FINITE:
            return False
    return True


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def write_json_atomic(path: Path, payload: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: the previous file stays, no partial temp file is left
        tmp.unlink(missing_ok=True)
        raise


class RunLog:
    """``resume_step``: continue a run from a checkpoint taken at that step. Rows logged after it
    (by the process that was killed) are dropped, so the resumed run logs each step once, as an
    uninterrupted run would; TensorBoard purges its events after that step too. ``trackers``: the
    settings of the run's other trackers (MLflow, W&B); they get each row once it is final."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, resume_step: int | None = None,
                 trackers: TrackerSettings | None = None):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.last: dict[str, float] = {}
        #: a multi-seed run: each seed's last value of each scalar
        self.last_by_seed: dict[int, dict[str, float]] = {}
        #: fields added to every metrics.jsonl row (e.g. {"phase": "pretrain"}); not sent to TensorBoard
        self.fields: dict = {}
        self.history: list[dict] = []
        path = self.dir / "metrics.jsonl"
        if resume_step is not None and path.exists():
            rows, skipped = read_log(path)
            if skipped:  # a damaged log: the rows that are whole are kept, the others named once
                shown = ", ".join(map(str, skipped[:5])) + (" …" if len(skipped) > 5 else "")
                log.warning("%s: %d line(s) are not metric rows and were dropped (line %s)", path,
                            len(skipped), shown)
            self.history = [r for r in rows if r["step"] <= resume_step]
            _warn_gap(path, self.history, resume_step)
            tmp = path.with_name(".metrics.jsonl.tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in self.history))
            os.replace(tmp, path)
            for row in self.history:
                values = {k: float(v) for k, v in row.items() if k not in ("step", "wall_time_s", "phase", "seed")}
                (self.last if "seed" not in row else self.last_by_seed.setdefault(row["seed"], {})).update(values)
        self._jsonl = open(path, "a", buffering=1)
        self._tensorboard = tensorboard
        self._purge = None if resume_step is None else resume_step + 1
        self._writers: dict = {}
        self.trackers = Trackers(trackers or TrackerSettings(), self.dir)
        self.trackers.start(self.history, resuming=resume_step is not None)

    def checkpointed(self) -> None:
        """A checkpoint was written: the rows so far are final (a resume keeps them), the trackers get them."""
        self.trackers.flush()

    def _writer(self, seed: int | None):
        """The TensorBoard writer of the run (seed None) or of one seed (seeds/<seed>/), made on first use."""
        if not self._tensorboard:
            return None
        if seed not in self._writers:
            from torch.utils.tensorboard import SummaryWriter  # heavy import: only when used

            from minimax_cli.storage import quiet_writer_threads

            quiet_writer_threads()
            where = self.dir if seed is None else self.dir / "seeds" / str(seed)
            self._writers[seed] = SummaryWriter(log_dir=str(where), purge_step=self._purge)
        return self._writers[seed]

    def log(self, step: int, metrics: dict[str, float], wall_time: float, seed: int | None = None) -> None:
        """One metrics row; ``seed``: the row of that seed of a multi-seed run."""
        record = {"step": step, "wall_time_s": round(wall_time, 6), **self.fields}
        if seed is not None:
            record["seed"] = seed
        record.update({k: _clean(float(v)) for k, v in metrics.items()})
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        self.history.append(record)
        self.trackers.row(record)
        (self.last if seed is None else self.last_by_seed.setdefault(seed, {})).update(
            {k: float(v) for k, v in metrics.items()})
        writer = self._writer(seed)
        if writer is not None:
            for key, value in metrics.items():
                if math.isfinite(float(value)):
                    writer.add_scalar(key, float(value), step)

    def add_artifact(self, path: Path) -> None:
        """A file of the run for its trackers only (e.g. a multi-seed run's combined figure)."""
        self.trackers.file(path)

    def add_figure_png(self, tag: str, png_path: Path, step: int, seed: int | None = None) -> None:
        self.trackers.file(png_path, seed)
        writer = self._writer(seed)
        if writer is None:
            return
        import numpy as np
        from PIL import Image

        image = np.asarray(Image.open(png_path).convert("RGB"))
        writer.add_image(tag, image, step, dataformats="HWC")

    def summary(self, payload: dict) -> None:
        """summary.json: ``payload`` with the last value of each scalar as ``metrics``; a multi-seed
        payload (``seeds``: one entry per seed) gets each seed's own, and as ``metrics`` /
        ``metrics_std`` their mean and standard deviation over seeds (finite values)."""
        payload = dict(payload)
        if "seeds" in payload:
            payload["seeds"] = [{**entry, "metrics": {k: _clean(v) for k, v in
                                                      self.last_by_seed.get(entry["seed"], {}).items()}}
                                for entry in payload["seeds"]]
            mean, std = seed_statistics([self.last_by_seed.get(e["seed"], {}) for e in payload["seeds"]])
            payload["metrics"] = {k: _clean(v) for k, v in mean.items()}
            payload["metrics_std"] = {k: _clean(v) for k, v in std.items()}
        else:
            payload["metrics"] = {k: _clean(v) for k, v in self.last.items()}
        write_json_atomic(self.dir / "summary.json", payload)
        self.trackers.summary(payload, self.dir / "summary.json")

    def close(self, quiet: bool = False) -> None:
        """``quiet``: the run is already failing (e.g. a full disk): a second error while closing
        must not hide the first one."""
        self.trackers.close(failing=quiet)
        try:
            self._jsonl.close()
            for writer in self._writers.values():
                writer.flush()
                writer.close()
        except Exception:  # noqa: BLE001
            if not quiet:
                raise
