"""logger=mlflow / wandb: each tracker, read back with its own library, holds exactly what the run's
files hold (every row of metrics.jsonl with its step, the resolved config as params), also across
a kill -9 and resume; a sweep is one experiment / group; a tracker that fails costs one warning."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from minimax_cli.trackers import TrackerSettings, flatten
from minimax_cli.report import find_run_dirs
from tests.conftest import REPO, load_metrics, load_summary

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

NOT_METRICS = ("step", "seed", "phase")
QUIET_WANDB = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made (MLflow's first use of a store migrates its schema,
    ~10 s here): each test starts from a copy."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def runs_root(runs_root, empty_store):
    """The runs root with the empty store in place (where logger=mlflow puts it by default)."""
    (runs_root / ".mlflow").mkdir(parents=True)
    shutil.copyfile(empty_store, runs_root / ".mlflow" / "mlflow.db")
    return runs_root


def client_of(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root.resolve() / '.mlflow' / 'mlflow.db'}")


def series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl as (step, value) per metric name, as the trackers name them."""
    out: dict = {}
    for row in rows:
        prefix = "" if row.get("phase") in (None, "main") else f"{row['phase']}/"
        for key, value in row.items():
            if key not in NOT_METRICS:
                out.setdefault(prefix + key, []).append((row["step"], float(value)))
    return out


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_mlflow_holds(client: MlflowClient, run_id: str, rows: list[dict]) -> None:
    expected = series(rows)
    assert set(client.get_run(run_id).data.metrics) == set(expected)
    for key, points in expected.items():
        held = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        assert [s for s, _ in held] == [s for s, _ in points], key   # no step twice, none missing
        assert all(same(v, w) for (_, v), (_, w) in zip(held, points)), key


def resolved_params(run_dir: Path) -> dict[str, str]:
    """The resolved config as the run saved it (.hydra/resolved.yaml), flattened, as MLflow params."""
    from minimax_cli.trackers.mlflow import params_of

    return params_of(flatten(yaml.safe_load((run_dir / ".hydra" / "resolved.yaml").read_text())))


def wandb_history(root: Path, run_id: str) -> list[dict]:
    from minimax_cli.trackers.wandb import history_of

    files = sorted((root / ".wandb" / "wandb").glob(f"*-{run_id}/run-{run_id}.wandb"))
    assert files, f"no W&B log of run {run_id}"
    return [row for path in files for row in history_of(path)]


def assert_wandb_holds(root: Path, run_id: str, rows: list[dict]) -> None:
    expected = series(rows)
    held: dict = {}
    for row in wandb_history(root, run_id):
        for key, value in row.items():
            if not key.startswith("_"):
                held.setdefault(key, []).append((row["_step"], float(value)))
    assert set(held) == set(expected)
    for key, points in expected.items():
        assert [s for s, _ in held[key]] == [s for s, _ in points], key
        assert all(same(v, w) for (_, v), (_, w) in zip(held[key], points)), key


def train(args: list[str], root: Path, env_extra: dict | None = None, timeout: int = 300):
    env = {**os.environ, "MINIMAX_RUNS": str(root), **QUIET_WANDB, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "minimax_cli", "train", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


# -- MLflow ----------------------------------------------------------------------------------------
def test_mlflow_holds_every_row_the_config_the_tags_and_the_files(cli, runs_root):
    code, _, err = cli("train", "logger=[tensorboard,mlflow]", "steps=50", "log_every=5")
    assert code == 0, err
    (run,) = find_run_dirs([runs_root])
    ids = json.loads((run / "trackers.json").read_text())
    client = client_of(runs_root)
    mlrun = client.get_run(ids["mlflow"]["run"])
    assert_mlflow_holds(client, mlrun.info.run_id, load_metrics(run))
    assert mlrun.data.params == resolved_params(run)
    assert mlrun.data.tags["status"] == load_summary(run)["status"]
    assert (mlrun.data.tags["game"], mlrun.data.tags["algo"]) == ("g1", "gda")
    assert mlrun.info.status == "FINISHED"
    assert client.get_experiment(mlrun.info.experiment_id).name == "minimax"
    files = {f.path for f in client.list_artifacts(mlrun.info.run_id)} | \
        {f.path for f in client.list_artifacts(mlrun.info.run_id, "figures")}
    assert {"summary.json", "figures/trajectories.png"} <= files
    assert list(run.glob("events.out.tfevents.*"))   # TensorBoard as before
    assert (runs_root / ".mlflow" / "artifacts").is_dir() and not (REPO / "mlruns").exists()


def test_a_tracker_run_holding_rows_past_the_checkpoint_is_replaced_on_resume(runs_root):
    """Rows sent after the checkpoint (which metrics.jsonl drops on resume) cannot be deleted from
    MLflow's history: the resumed run starts a fresh tracker run with metrics.jsonl's rows."""
    from minimax_cli.trackers.mlflow import MlflowTracker

    settings = TrackerSettings(names=("mlflow",), options={"mlflow": {}}, params={"a.b": 1}, root=str(runs_root),
                               run_name="r")
    rows = [{"step": s, "wall_time_s": 0.1 * s, "loss": float(s)} for s in range(0, 100, 10)]
    first = MlflowTracker(settings, runs_root / "r", {})
    first.start([], [], resuming=False)
    first.send(None, rows)
    kept = rows[:5]   # the checkpoint was at step 40
    again = MlflowTracker(settings, runs_root / "r", first.stored())
    again.start([None], kept, resuming=True)
    assert again.runs[None] != first.runs[None]
    assert first.client.get_run(first.runs[None]).info.lifecycle_stage == "deleted"
    assert_mlflow_holds(again.client, again.runs[None], kept)
    # a tracker run that holds only rows before the checkpoint is continued, with the missing ones
    third = MlflowTracker(settings, runs_root / "r", again.stored())
    third.start([None], rows[:7], resuming=True)
    assert third.runs[None] == again.runs[None]
    assert_mlflow_holds(third.client, third.runs[None], rows[:7])


def test_a_resumed_run_with_pretraining_continues_its_mlflow_run(cli, runs_root):
    """Pretraining rows are pretrain/<name>; a resume (here: extending a finished run) continues the
    same MLflow run and adds only the new steps."""
    run = runs_root / "r"
    code, _, err = cli("train", "logger=mlflow", "pretrain.steps=20", "+algo@pretrain.algo=gda", "steps=20",
                       "checkpoint_every=10", "plot=false", f"hydra.run.dir={run}")
    assert code == 0, err
    first = json.loads((run / "trackers.json").read_text())
    code, _, err = cli("train", f"resume={run}", "steps=40")
    assert code == 0, err
    assert json.loads((run / "trackers.json").read_text()) == first
    rows = load_metrics(run)
    assert {r["phase"] for r in rows} == {"pretrain", "main"} and rows[-1]["step"] == 60
    assert_mlflow_holds(client_of(runs_root), first["mlflow"]["run"], rows)


def test_a_sweep_is_one_mlflow_experiment_with_one_run_per_job(cli, runs_root):
    code, _, err = cli("train", "-m", "logger=mlflow", "steps=20", "plot=false", "seed=0,1,2")
    assert code == 0, err
    client = client_of(runs_root)
    (sweep,) = (runs_root / "multirun").iterdir()
    experiment = client.get_experiment_by_name(f"multirun/{sweep.name}")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 3
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert sorted(r.info.run_name for r in runs) == [p.name for p in jobs]
    for run in runs:
        job = Path(run.data.tags["run_dir"])
        assert_mlflow_holds(client, run.info.run_id, load_metrics(job))
        assert run.data.params["seed"] == str(load_summary(job)["seed"])


def test_a_multi_seed_run_is_one_mlflow_run_per_seed_under_the_run(cli, runs_root):
    code, _, err = cli("train", "game=mog", "seeds=2", "steps=20", "log_every=5", "logger=mlflow", "progress=false")
    assert code == 0, err
    (run,) = find_run_dirs([runs_root])
    ids = json.loads((run / "trackers.json").read_text())["mlflow"]
    client, rows = client_of(runs_root), load_metrics(run)
    assert client.get_run(ids["run"]).data.params == resolved_params(run)
    for seed in (0, 1):
        child = client.get_run(ids[f"seed{seed}"])
        assert child.data.tags["seed"] == str(seed) and child.data.tags["mlflow.parentRunId"] == ids["run"]
        assert_mlflow_holds(client, ids[f"seed{seed}"], [r for r in rows if r["seed"] == seed])
    # the combined figures (every seed in one) belong to the run's own tracker run
    assert "figures/samples.png" in {f.path for f in client.list_artifacts(ids["run"], "figures")}


def test_an_unreachable_mlflow_server_costs_one_warning_and_nothing_else(cli, runs_root, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")   # nothing listens on the discard port
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    started = time.perf_counter()
    code, _, err = cli("train", "logger=mlflow", "steps=50", "plot=false")
    assert code == 0, err
    assert err.count("tracker off") == 1 and "mlflow tracker off for this run" in err, err
    (run,) = find_run_dirs([runs_root])
    assert load_summary(run)["status"] in ("finished", "converged")
    assert len(load_metrics(run)) == 6 and not (run / "trackers.json").exists()
    assert time.perf_counter() - started < 60


# -- W&B (each in its own process: wandb keeps a service process and global state) -----------------
def test_wandb_offline_holds_every_row_and_the_config(runs_root, tmp_path):
    proc = train(["logger=wandb", "steps=50", "log_every=5", f"hydra.run.dir={tmp_path / 'r'}"], runs_root)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "r"
    assert "tracker off" not in proc.stderr, proc.stderr
    run_id = json.loads((run / "trackers.json").read_text())["wandb"]["run"]
    assert_wandb_holds(runs_root, run_id, load_metrics(run))
    from minimax_cli.trackers.wandb import records_of

    (log,) = (runs_root / ".wandb" / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb")
    header = records_of(log, ("run",))[0]   # (a later run record: the tags set at the end)
    config = {u.key: json.loads(u.value_json) for u in header.run.config.update if u.key != "_wandb"}
    assert config == flatten(yaml.safe_load((run / ".hydra" / "resolved.yaml").read_text()))
    assert not list(run.glob("events.out.tfevents.*"))   # logger=wandb alone: no TensorBoard


def test_an_unwritable_wandb_dir_costs_one_warning_and_nothing_else(cli, runs_root, tmp_path):
    blocker = tmp_path / "file"   # (W&B fails before it starts anything: in-process is safe)
    blocker.write_text("not a folder")
    code, _, err = cli("train", "logger=[tensorboard,wandb]", f"logger.wandb.dir={blocker / 'w'}", "steps=30",
                       "plot=false", f"hydra.run.dir={tmp_path / 'r'}")
    assert code == 0, err
    assert err.count("tracker off") == 1 and "wandb tracker off" in err, err
    assert load_summary(tmp_path / "r")["status"] in ("finished", "converged")
    assert list((tmp_path / "r").glob("events.out.tfevents.*"))


def test_no_logger_writes_neither_events_nor_tracker_ids(cli, runs_root):
    code, _, err = cli("train", "logger=[]", "steps=20", "plot=false")
    assert code == 0, err
    (run,) = find_run_dirs([runs_root])
    assert not list(run.glob("events.out.tfevents.*")) and not (run / "trackers.json").exists()
    assert len(load_metrics(run)) == 3


# -- kill -9 and resume --------------------------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_and_resume_leave_each_tracker_equal_to_metrics_jsonl(runs_root, tmp_path):
    """Rows logged after the last checkpoint by the killed process are dropped from metrics.jsonl on
    resume; the trackers (both at once) end with exactly the rows metrics.jsonl ends with."""
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "minimax_cli", "train", "logger=[mlflow,wandb]", "game=g3", "algo=fr", "tol=0",
           "steps=400000", "log_every=10", "checkpoint_every=100", "plot=false", "progress=false",
           f"hydra.run.dir={run}"]
    env = {**os.environ, "MINIMAX_RUNS": str(runs_root), **QUIET_WANDB}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        rows = load_metrics(run) if (run / "metrics.jsonl").exists() else []
        if (run / "trackers.json").exists() and rows and rows[-1]["step"] >= 130 and rows[-1]["step"] % 100:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = json.loads((run / "trackers.json").read_text())
    resumed = train([f"resume={run}", "steps=300"], runs_root)
    assert resumed.returncode == 0, resumed.stderr
    assert "tracker off" not in resumed.stderr, resumed.stderr
    rows = load_metrics(run)
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 300
    ids = json.loads((run / "trackers.json").read_text())
    assert ids == before   # the same tracker runs, continued
    assert_mlflow_holds(client_of(runs_root), ids["mlflow"]["run"], rows)
    assert_wandb_holds(runs_root, ids["wandb"]["run"], rows)
