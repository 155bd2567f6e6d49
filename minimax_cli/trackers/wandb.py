"""logger=wandb: one W&B run per run directory (one per seed of a seeds=S run, in one group).

Offline unless configured otherwise (``logger.wandb.mode``, else $WANDB_MODE, else offline): the
run is written under ``<runs_root>/.wandb/wandb/`` (hidden: ``minimax report runs/`` skips it) and
uploaded later by ``wandb sync``. A sweep's jobs
share a group (the sweep's directory); figures and summary.json are the run's files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from minimax_cli.trackers.base import Tracker, metrics_of, missing

_RECORD = re.compile(r"^# record \d+: ", re.M)


def records_of(wandb_file: Path, kinds: tuple[str, ...] = ("history",)) -> list:
    """The records of those ``kinds`` (protobuf ``Record``s) of a run's ``.wandb`` log, read by W&B's
    own reader: ``wandb leet inspect`` prints each record as protobuf text."""
    from google.protobuf import text_format
    from wandb.proto import wandb_internal_pb2

    proc = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", str(wandb_file)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"wandb leet inspect {wandb_file} failed: {proc.stderr.strip()[-300:]}")
    records = []
    for chunk in _RECORD.split(proc.stdout)[1:]:
        chunk = chunk.partition("\n")[2]   # (after the header's record kind)
        if not any(f"\n{kind}: {{" in chunk for kind in kinds):
            continue
        record = text_format.Parse(chunk, wandb_internal_pb2.Record(), allow_unknown_field=True)
        if record.WhichOneof("record_type") in kinds:
            records.append(record)
    return records


def history_of(wandb_file: Path) -> list[dict]:
    """The history rows (each a dict with ``_step``) of a run's ``.wandb`` log."""
    return [{(item.key or "/".join(item.nested_key)): json.loads(item.value_json) for item in record.history.item}
            for record in records_of(wandb_file)]


class WandbTracker(Tracker):
    name = "wandb"

    def __init__(self, settings, run_dir, ids):
        super().__init__(settings, run_dir, ids)
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.wandb = wandb
        options = settings.options.get("wandb", {})
        self.mode = str(options.get("mode") or os.environ.get("WANDB_MODE") or "offline")
        self.where = Path(str(options.get("dir") or Path(settings.root) / ".wandb")).resolve()
        self.where.mkdir(parents=True, exist_ok=True)
        self.runs: dict = {}     # seed (None: the run) -> wandb Run

    def files_of(self, run_id: str) -> list[Path]:
        """The local logs of W&B run ``run_id`` (one per process that wrote it: a resumed run has several)."""
        return sorted((self.where / "wandb").glob(f"*-{run_id}/run-{run_id}.wandb"))

    def _held(self, run_id: str) -> set:
        held = set()
        for path in self.files_of(run_id):
            for row in history_of(path):
                phase = "pretrain" if "pretrain/wall_time_s" in row else None
                held.add((phase, int(row["_step"])))
                if phase and "wall_time_s" in row:   # main's first row at the step pretraining ended
                    held.add((None, int(row["_step"])))
        return held

    def _open(self, seed, run_id: str | None):
        s = self.settings
        name = s.run_name or self.dir.name
        tags = [f"{k}:{v}" for k, v in s.tags.items() if v]
        group = s.group
        if seed is not None:
            name, tags, group = f"{name}/seed{seed}", tags + [f"seed:{seed}"], group or name
        options = s.options.get("wandb", {})
        settings = self.wandb.Settings(mode=self.mode, console="off", x_disable_stats=True, x_disable_meta=True,
                                       silent=True)
        return self.wandb.init(project=str(options.get("project") or "minimax"), entity=options.get("entity"),
                               dir=str(self.where), id=run_id or uuid.uuid4().hex[:12], name=name,
                               group=group, tags=tags, config=s.params, resume="allow", reinit="create_new",
                               settings=settings)

    def start(self, seeds, history, resuming):
        multi = [s for s in seeds if s is not None]
        if not multi:
            self._start_one(None, history, resuming)
        for seed in multi:
            self._start_one(seed, [r for r in history if r.get("seed") == seed], resuming)

    def _start_one(self, seed, history, resuming):
        run_id = self.ids.get("run" if seed is None else f"seed{seed}") if resuming else None
        lacking = history
        if run_id:
            lacking, extra = missing(history, self._held(run_id))
            if extra:   # it holds rows metrics.jsonl dropped: a fresh W&B run holds metrics.jsonl's
                if self.mode == "offline":
                    for path in self.files_of(run_id):
                        shutil.rmtree(path.parent, ignore_errors=True)
                run_id, lacking = None, history
        self.runs[seed] = self._open(seed, run_id)
        self.send(seed, lacking)

    def send(self, seed, rows):
        if seed not in self.runs:
            self.runs[seed] = self._open(seed, None)
        run = self.runs[seed]
        for row in rows:
            run.log(metrics_of(row), step=row["step"])

    def file(self, seed, path, folder):
        run = self.runs.get(seed) or self.runs.get(None) or next(iter(self.runs.values()))
        run.save(str(path), base_path=str(path.parent), policy="now")

    def summary(self, payload, path):
        for seed, run in self.runs.items():
            entry = next((e for e in payload.get("seeds") or [] if isinstance(e, dict) and e.get("seed") == seed),
                         payload)
            run.summary["status"] = str(entry.get("status"))
            run.tags = tuple(t for t in run.tags if not t.startswith("status:")) + (f"status:{entry.get('status')}",)
            if seed is None or seed == min(s for s in self.runs if s is not None):
                run.save(str(path), base_path=str(path.parent), policy="now")

    def close(self, status):
        for run in self.runs.values():
            run.finish(exit_code=0 if status in ("finished", "converged", "diverged") else 1)
        self.runs = {}

    def stored(self):
        return {("run" if s is None else f"seed{s}"): r.id for s, r in self.runs.items()}
