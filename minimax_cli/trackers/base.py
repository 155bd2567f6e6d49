"""What every tracker does, and the fan-out RunLog calls: rows, figures, the summary, the end.

A run's own files (metrics.jsonl, summary.json) are the truth; a tracker is a copy. So a tracker
that cannot be imported, reached or written costs the run one warning line and nothing else: it is
switched off for the rest of the run.

Rows reach the trackers when they are final: at each checkpoint (a resumed run keeps exactly the
rows up to its checkpoint, metrics.jsonl drops the later ones), and at the end. A run without
checkpoints cannot be resumed, so its rows go out every few seconds. On resume each tracker is
asked which steps it already holds: it gets the missing ones of metrics.jsonl, and a tracker
that holds more than metrics.jsonl (rows after the checkpoint) starts a fresh tracker run.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from minimax_cli import runfiles
from minimax_cli.errors import DataError

log = logging.getLogger("minimax")

#: where a run keeps its tracker run ids (a resumed run continues the same tracker runs)
IDS_FILE = "trackers.json"
#: row fields that are not metrics
NOT_METRICS = ("step", "seed", "phase")
#: seconds between sends of a run without checkpoints
LIVE_EVERY_S = 5.0
_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@dataclass(frozen=True)
class TrackerSettings:
    """What the trackers of one run need, read from its config and Hydra once (plain values)."""

    names: tuple[str, ...] = ()     # "mlflow", "wandb": the trackers besides TensorBoard, in config order
    options: dict = field(default_factory=dict)  # each one's keys (conf/logger/<name>.yaml)
    params: dict = field(default_factory=dict)   # the composed config, resolved, flattened to dotted keys
    root: str = "runs"              # the runs root (the default stores live under it)
    experiment: str = "minimax"     # a sweep's directory under the runs root, or "minimax"
    run_name: str = ""              # the run directory under the runs root (a sweep's job: its subdir)
    group: str | None = None        # a sweep's jobs share it (W&B group)
    tags: dict = field(default_factory=dict)     # game, algo, experiment (the paper setup), seed
    live: bool = True               # no checkpoints: send rows every LIVE_EVERY_S


def phase_of(row: dict) -> str | None:
    """A row's phase as the trackers keep it apart: None for the main phase (with or without pretraining)."""
    phase = row.get("phase")
    return None if phase in (None, "main") else phase


def metric_key(row: dict, key: str) -> str:
    """The tracker's name of a row's value: pretraining rows are kept apart (``pretrain/<key>``), as
    the main phase may log the step the pretraining ended at."""
    phase = phase_of(row)
    return key if phase is None else f"{phase}/{key}"


def metrics_of(row: dict) -> dict[str, float]:
    """A metrics.jsonl row's values under their tracker names (non-finite values as floats)."""
    return {metric_key(row, k): float(v) for k, v in row.items() if k not in NOT_METRICS}


class Tracker:
    """One tracker (mlflow.py, wandb.py). Each run of seeds=S has one tracker run per seed (seed
    None: the run itself). Any exception switches the tracker off (Trackers)."""

    name = ""

    def __init__(self, settings: TrackerSettings, run_dir: Path, ids: dict):
        self.settings, self.dir, self.ids = settings, run_dir, ids   # ids: what this tracker stored before

    def start(self, seeds: list, history: list[dict], resuming: bool) -> None:
        """Open (or continue) the tracker runs, and send the rows of ``history`` they miss."""
        raise NotImplementedError

    def send(self, seed, rows: list[dict]) -> None:
        raise NotImplementedError

    def file(self, seed, path: Path, folder: str) -> None:
        raise NotImplementedError

    def summary(self, payload: dict, path: Path) -> None:
        raise NotImplementedError

    def close(self, status: str) -> None:
        raise NotImplementedError

    def stored(self) -> dict:
        """What to keep in trackers.json (run ids) to continue the same runs on resume."""
        return {}


def missing(history: list[dict], held: set) -> tuple[list[dict], bool]:
    """(the rows of ``history`` a tracker lacks, whether it holds rows that history does not):
    ``held`` is the set of (phase, step) the tracker holds for one seed."""
    kept = {(phase_of(r), r["step"]) for r in history}
    return [r for r in history if (phase_of(r), r["step"]) not in held], bool(held - kept)


def _classes() -> dict:
    from minimax_cli.trackers.mlflow import MlflowTracker
    from minimax_cli.trackers.wandb import WandbTracker

    return {"mlflow": MlflowTracker, "wandb": WandbTracker}


def read_ids(run_dir: Path) -> dict:
    """trackers.json of a run (untrusted: anything but names to ids is ignored with a warning)."""
    path = Path(run_dir) / IDS_FILE
    if not path.exists():
        return {}
    try:
        payload = json.loads(runfiles.read_text(path, limit=1 << 20))
    except (DataError, ValueError) as exc:
        log.warning("%s is unreadable (%s): the trackers start new runs", path, exc)
        return {}
    if not isinstance(payload, dict):
        payload = {}
    clean = {}
    for name, runs in payload.items():
        if isinstance(runs, dict) and all(isinstance(k, str) and isinstance(v, str) and _ID.fullmatch(v)
                                          for k, v in runs.items()):
            clean[name] = runs
        else:
            log.warning("%s: the entry %r is not tracker run ids: its tracker starts a new run", path, name)
    return clean


class Trackers:
    """The trackers of one run, as RunLog sees them: rows are held until they are final (``flush``)."""

    def __init__(self, settings: TrackerSettings, run_dir: Path):
        self.settings, self.dir = settings, Path(run_dir)
        self.active: list[Tracker] = []
        self._pending: list[dict] = []
        self._sent = time.monotonic()
        self._status: str | None = None
        self._store_failed = False
        self._stored_text: str | None = None   # trackers.json as last written

    def start(self, history: list[dict], resuming: bool) -> None:
        if not self.settings.names:
            return
        ids = read_ids(self.dir) if resuming else {}
        seeds = sorted({r.get("seed") for r in history}, key=lambda s: -1 if s is None else s)
        classes = _classes()
        for name in self.settings.names:
            tracker = self._guard(None, lambda: classes[name](self.settings, self.dir, ids.get(name, {})), name)
            if tracker is not None and self._guard(tracker, lambda: tracker.start(seeds, history, resuming)):
                self.active.append(tracker)
        self._store()

    def row(self, record: dict) -> None:
        if not self.active:
            return
        self._pending.append(record)
        if self.settings.live and time.monotonic() - self._sent >= LIVE_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Send the held rows (each seed's to its tracker run); called once they are final."""
        self._sent = time.monotonic()
        if not self._pending or not self.active:
            self._pending = []
            return
        by_seed: dict = {}
        for record in self._pending:
            by_seed.setdefault(record.get("seed"), []).append(record)
        self._pending = []
        for tracker in list(self.active):
            self._guard(tracker, lambda: [tracker.send(seed, rows) for seed, rows in by_seed.items()])
        self._store()

    def file(self, path: Path, seed=None, folder: str = "figures") -> None:
        for tracker in list(self.active):
            self._guard(tracker, lambda: tracker.file(seed, Path(path), folder))

    def summary(self, payload: dict, path: Path) -> None:
        self.flush()
        self._status = str(payload.get("status", "finished"))
        for tracker in list(self.active):
            self._guard(tracker, lambda: tracker.summary(payload, Path(path)))

    def close(self, failing: bool = False) -> None:
        """``failing``: the run is ending on an error; a run that wrote no summary was stopped."""
        self.flush()
        status = self._status or ("failed" if failing else "interrupted")
        for tracker in list(self.active):
            self._guard(tracker, lambda: tracker.close(status))
        self.active = []

    def _guard(self, tracker: Tracker | None, call, name: str | None = None):
        """``call()``; on any error the tracker is off for the rest of the run, with one warning."""
        try:
            out = call()
            return True if out is None and tracker is not None else out
        except Exception as exc:  # noqa: BLE001  (a tracker must never cost the run anything)
            name = name or tracker.name
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            log.warning("%s tracker off for this run: %s: %s (the run's own files are complete)", name,
                        type(exc).__name__, reason)
            if tracker in self.active:
                self.active.remove(tracker)
            return None

    def _store(self) -> None:
        """trackers.json: the run ids of the active trackers (written only when they change)."""
        ids = {t.name: t.stored() for t in self.active if t.stored()}
        if not ids:
            return
        path = self.dir / IDS_FILE
        text = json.dumps(ids, indent=1, sort_keys=True) + "\n"
        if self._stored_text == text:
            return
        from minimax_cli.runlog import write_json_atomic

        try:
            write_json_atomic(path, ids)
        except OSError as exc:   # (a full disk): the run goes on; a resume of it would start new tracker runs
            if not self._store_failed:
                log.warning("cannot write %s (%s): a resume of this run starts new tracker runs", path,
                            exc.strerror or exc)
            self._store_failed = True
            return
        self._stored_text = text
