"""logger=mlflow: one MLflow run per run directory (and a child run per seed of a seeds=S run).

The store: ``logger.mlflow.tracking_uri``, else $MLFLOW_TRACKING_URI, else a SQLite file under the
runs root (``sqlite:///<runs_root>/.mlflow/mlflow.db``, artifacts in ``<runs_root>/.mlflow/artifacts``:
a hidden folder, so that ``minimax report runs/`` does not take its copies of summary.json for runs),
no server; ``mlflow ui --backend-store-uri sqlite:///<runs_root>/.mlflow/mlflow.db`` shows it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

from minimax_cli.trackers.base import Tracker, metrics_of, missing

#: MLflow's limits on a param (mlflow.utils.validation); longer keys/values are cut with a note
KEY_LIMIT, VALUE_LIMIT, BATCH_PARAMS, BATCH_METRICS = 250, 6000, 100, 1000
#: the default store's folder under the runs root
STORE = ".mlflow"
CUT = "...(cut by minimax: longer than MLflow's limit)"
#: the run's status -> MLflow's end state
ENDS = {"finished": "FINISHED", "converged": "FINISHED", "diverged": "FINISHED", "interrupted": "KILLED",
        "failed": "FAILED"}


def params_of(flat: dict) -> dict[str, str]:
    """MLflow params (strings) of the flattened config, cut to MLflow's limits."""
    out = {}
    for key, value in flat.items():
        text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        if len(text) > VALUE_LIMIT:
            text = text[:VALUE_LIMIT - len(CUT)] + CUT
        out[key if len(key) <= KEY_LIMIT else key[:KEY_LIMIT - 3] + "..."] = text
    return out


def store_uri(settings) -> str:
    uri = settings.options.get("mlflow", {}).get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return str(uri)
    folder = Path(settings.root).resolve() / STORE
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


class MlflowTracker(Tracker):
    name = "mlflow"

    def __init__(self, settings, run_dir, ids):
        super().__init__(settings, run_dir, ids)
        # an unreachable server: a few quick tries, not MLflow's minutes of retries (the user's values win)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow.tracking import MlflowClient

        for name in ("mlflow", "alembic"):   # the store's "creating tables" lines are not the run's
            logging.getLogger(name).setLevel(logging.WARNING)   # (after the import: it sets its own)

        self.uri = store_uri(settings)
        if self._default_store():   # a new store's tables are made once: a parallel sweep's jobs take turns
            with open(Path(settings.root).resolve() / STORE / "store.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self.client = MlflowClient(tracking_uri=self.uri)
                self.client.search_experiments(max_results=1)
        else:
            self.client = MlflowClient(tracking_uri=self.uri)
        self.runs: dict = {}        # seed (None: the run) -> MLflow run id

    def _default_store(self) -> bool:
        return not self.settings.options.get("mlflow", {}).get("tracking_uri") and \
            not os.environ.get("MLFLOW_TRACKING_URI")

    # -- runs --------------------------------------------------------------------------------------
    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        name = self.settings.options.get("mlflow", {}).get("experiment") or self.settings.experiment
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        artifacts = None
        if self._default_store():   # artifacts beside it
            artifacts = (Path(self.settings.root).resolve() / STORE / "artifacts").as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=artifacts)
        except MlflowException:   # a sweep's parallel job made it meanwhile
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _new_run(self, seed) -> str:
        from mlflow.entities import Param

        tags = {**self.settings.tags, "run_dir": str(self.dir)}
        name = self.settings.run_name or self.dir.name
        if seed is not None:
            tags |= {"seed": str(seed), "mlflow.parentRunId": self.runs[None]}
            name = f"{name}/seed{seed}"
        run = self.client.create_run(self._experiment(), run_name=name, tags=tags)
        params = [Param(k, v) for k, v in params_of(self.settings.params).items()]
        for i in range(0, len(params), BATCH_PARAMS):
            self.client.log_batch(run.info.run_id, params=params[i:i + BATCH_PARAMS])
        return run.info.run_id

    def _held(self, run_id: str) -> set:
        """The (phase, step) rows an MLflow run holds: every row has a wall_time_s."""
        held = set()
        for phase in (None, "pretrain"):
            key = "wall_time_s" if phase is None else f"{phase}/wall_time_s"
            held |= {(phase, m.step) for m in self.client.get_metric_history(run_id, key)}
        return held

    def _continue(self, key: str) -> str | None:
        """The stored run id of ``key`` when that run is still in the store."""
        from mlflow.exceptions import MlflowException

        run_id = self.ids.get(key)
        if not run_id:
            return None
        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return None
        return run_id if run.info.lifecycle_stage == "active" else None

    def start(self, seeds, history, resuming):
        multi = [s for s in seeds if s is not None]
        self.runs[None] = (self._continue("run") if resuming else None) or self._new_run(None)
        for seed in multi:
            self._open_seed(seed, history, resuming)
        if None in seeds or not multi:
            self._catch_up(None, [r for r in history if r.get("seed") is None], resuming)

    def _open_seed(self, seed, history, resuming):
        self.runs[seed] = (self._continue(f"seed{seed}") if resuming else None) or self._new_run(seed)
        self._catch_up(seed, [r for r in history if r.get("seed") == seed], resuming)

    def _catch_up(self, seed, history, resuming):
        """A resumed run: send the rows the tracker run lacks; one that holds rows metrics.jsonl
        dropped (logged after the checkpoint) is replaced by a fresh run holding metrics.jsonl's."""
        if not resuming:
            return
        lacking, extra = missing(history, self._held(self.runs[seed]))
        if extra:
            old = self.runs[seed]
            self.client.set_tag(old, "minimax.replaced", "rows after the checkpoint it resumed from")
            self.client.delete_run(old)
            if seed is None:
                self.runs[None] = self._new_run(None)
            else:
                self.runs[seed] = self._new_run(seed)
            lacking = history
        self.send(seed, lacking)

    def send(self, seed, rows):
        from mlflow.entities import Metric

        if seed not in self.runs:
            self._open_seed(seed, [], False)
        now = int(time.time() * 1000)
        batch: list = []
        for row in rows:   # whole rows per batch (one transaction): a row is held whole or not at all
            values = [Metric(k, v, now, row["step"]) for k, v in metrics_of(row).items()]
            if batch and len(batch) + len(values) > BATCH_METRICS:
                self.client.log_batch(self.runs[seed], metrics=batch)
                batch = []
            batch += values
        if batch:
            self.client.log_batch(self.runs[seed], metrics=batch)

    def file(self, seed, path, folder):
        self.client.log_artifact(self.runs.get(seed, self.runs[None]), str(path), artifact_path=folder)

    def summary(self, payload, path):
        run_id = self.runs[None]
        self.client.log_artifact(run_id, str(path))
        self.client.set_tag(run_id, "status", str(payload.get("status")))
        for entry in payload.get("seeds") or []:
            if isinstance(entry, dict) and entry.get("seed") in self.runs:
                self.client.set_tag(self.runs[entry["seed"]], "status", str(entry.get("status")))

    def close(self, status):
        for seed, run_id in self.runs.items():
            self.client.set_terminated(run_id, ENDS.get(status, "FINISHED"))

    def stored(self):
        return {("run" if s is None else f"seed{s}"): r for s, r in self.runs.items()}
