"""What a run leaves in its directory: metrics.jsonl, TensorBoard events, summary.json.

metrics.jsonl is appended and flushed line by line, so a run killed at any point keeps every
step it logged; summary.json is written atomically (temp file + rename).

A multi-seed run (``seeds=S``) writes one row per seed and log step, with a ``seed`` field; its
TensorBoard events are per seed, in seeds/<seed>/ (TensorBoard shows the seeds as runs), and its
summary holds each seed's last values (``seed_summaries``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

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
    """metrics.jsonl's rows ([] when there is no file; a line torn by a kill mid-write, or one that
    is not a JSON object, is skipped)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


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
    uninterrupted run would; TensorBoard purges its events after that step too."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, resume_step: int | None = None):
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
            self.history = [r for r in read_rows(path) if r["step"] <= resume_step]
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
        (self.last if seed is None else self.last_by_seed.setdefault(seed, {})).update(
            {k: float(v) for k, v in metrics.items()})
        writer = self._writer(seed)
        if writer is not None:
            for key, value in metrics.items():
                if math.isfinite(float(value)):
                    writer.add_scalar(key, float(value), step)

    def add_figure_png(self, tag: str, png_path: Path, step: int, seed: int | None = None) -> None:
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

    def close(self, quiet: bool = False) -> None:
        """``quiet``: the run is already failing (e.g. a full disk): a second error while closing
        must not hide the first one."""
        try:
            self._jsonl.close()
            for writer in self._writers.values():
                writer.flush()
                writer.close()
        except Exception:  # noqa: BLE001
            if not quiet:
                raise
