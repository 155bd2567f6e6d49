"""Fault drill: throw bad input and faults at the real CLI and count what comes back.

    python -m scripts.fault_drill [--quick] [--out DIR]

Each fault is one ``minimax`` command (in this process, or a child where a signal or the disk is
involved) with the outcome it must have: a clean one-line error (exit 2, one ``minimax: error:``
line, no run directory) or a handled run (exit code and summary.json status as documented). A
*traceback* anywhere in a fault's output, or a *run lost* (an earlier run directory changed, or a
started run left without summary.json or with an unreadable checkpoint) fails the drill (exit 1).
``--quick`` (CI) leaves out the slower child-process faults that tests/test_faults.py,
tests/test_signals_sweep.py, tests/test_optuna_colours.py and tests/test_custom_net_warnings.py also cover.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUIET = ["plot=false", "tensorboard=false", "progress=false"]


@dataclass
class Outcome:
    code: int
    out: str


@dataclass
class Row:
    fault: str
    expect: str
    verdict: str      # clean | handled | traceback | unexpected
    detail: str


def in_process(args: list[str]) -> Outcome:
    from minimax_cli.cli import main

    buffer = io.StringIO()
    argv = sys.argv
    try:
        with contextlib.redirect_stderr(buffer), contextlib.redirect_stdout(buffer):
            sys.argv = ["minimax", *args]
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
            except BaseException:  # noqa: BLE001  an exception escaping the CLI is a traceback
                import traceback

                buffer.write(traceback.format_exc())
                code = -1
    finally:
        sys.argv = argv
    return Outcome(code, buffer.getvalue())


def child(args: list[str], env: dict | None = None, limit_bytes: int | None = None, timeout: int = 240,
          signal_after: tuple[int, Path, int] | None = None, cwd: Path = REPO) -> Outcome:
    """``minimax ...`` in a child process; ``signal_after=(sig, folder, rows)`` sends ``sig`` once a
    metrics.jsonl under ``folder`` has ``rows`` rows; ``limit_bytes``: RLIMIT_FSIZE (a full disk)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    full_env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "minimax_cli", *args], cwd=cwd, env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=limit if limit_bytes is not None else None)
    if signal_after is not None:
        sig, folder, rows = signal_after
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None:
            found = [m for m in folder.rglob("metrics.jsonl") if len(m.read_text().splitlines()) >= rows]
            writer = holder(found[0]) if found else None
            if writer is not None:   # the process writing the run (a sweep's job runs in a process of its own)
                os.kill(writer, sig)
                break
            time.sleep(0.1)
    out, _ = proc.communicate(timeout=timeout)
    return Outcome(proc.returncode, out)


def signalled_sweep(args: list[str], sig: int, folder: Path, running: int, group: bool = False,
                    timeout: int = 240) -> Outcome:
    """``minimax train -m ...`` in a child process (a session of its own) sent ``sig`` once ``running`` of its
    jobs have logged rows: to the sweep's own process, or (``group``) to its whole process group, as a
    terminal's Ctrl-C does."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "minimax_cli", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if sum(len(m.read_text().splitlines()) >= 2 for m in folder.rglob("metrics.jsonl")) >= running:
            os.killpg(proc.pid, sig) if group else os.kill(proc.pid, sig)
            break
        time.sleep(0.1)
    out, _ = proc.communicate(timeout=timeout)
    return Outcome(proc.returncode, out)


def holder(path: Path) -> int | None:
    """The process that has ``path`` open (a job writing its metrics.jsonl), from /proc."""
    target = str(path.resolve())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return None


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "run.lock"}


class Drill:
    def __init__(self, root: Path):
        self.root = root
        self.rows: list[Row] = []
        self.started: list[Path] = []    # run directories the faults created or resumed

    def clean(self, name: str, args: list[str], message: str, runs: Path | None = None) -> None:
        """The fault must give exit 2 and exactly one ``minimax: error:`` line containing ``message``,
        and leave no run under ``runs``."""
        runs = runs or self.root / "runs"
        before = set(runs.rglob("*")) if runs.exists() else set()
        result = in_process(args)
        lines = [ln for ln in result.out.strip().splitlines() if ln.strip()]
        created = (set(runs.rglob("*")) if runs.exists() else set()) - before
        if "Traceback" in result.out or result.code == -1:
            verdict = "traceback"
        elif (result.code == 2 and len(lines) == 1 and lines[0].startswith("minimax: error: ")
              and message in lines[0] and not created):
            verdict = "clean"
        else:
            verdict = "unexpected"
        self.rows.append(Row(name, "one line", verdict, (lines[-1] if lines else f"exit {result.code}")[:150]))

    def handled(self, name: str, result: Outcome, run: Path | None, code: int, status: str | None,
                check=None) -> None:
        """The fault must end with ``code`` and (when ``run``) summary.json status ``status``."""
        detail, ok = f"exit {result.code}", result.code == code
        if run is not None:
            self.started.append(run)
            summary = run / "summary.json"
            got = json.loads(summary.read_text()).get("status") if summary.exists() else None
            detail += f", status {got}"
            ok = ok and got == status
        if ok and check is not None:
            problem = check()
            ok, detail = problem is None, detail + (f", {problem}" if problem else "")
        verdict = "traceback" if "Traceback" in result.out else ("handled" if ok else "unexpected")
        self.rows.append(Row(name, f"exit {code}" + (f", {status}" if status else ""), verdict, detail))

    def lost(self, baseline: dict[Path, dict]) -> list[str]:
        from minimax_cli import checkpoint

        lost = [f"{folder} changed" for folder, files in baseline.items() if snapshot(folder) != files]
        for run in self.started:
            if not (run / "summary.json").exists():
                lost.append(f"{run}: no summary.json")
            if checkpoint.path_in(run).exists():
                try:
                    checkpoint.load(checkpoint.path_in(run))
                except Exception as exc:  # noqa: BLE001
                    lost.append(f"{run}: {exc}")
        return lost


def run_drill(root: Path, quick: bool) -> tuple[list[Row], list[str]]:
    os.environ["MINIMAX_RUNS"] = str(root / "runs")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    d = Drill(root)
    runs = root / "runs"

    # two earlier results the drill must never touch, and a run to resume
    keep = runs / "keep"
    assert in_process(["train", "game=g3", "steps=40", "checkpoint_every=20", *QUIET, f"hydra.run.dir={keep}"]).code == 0
    target = root / "target"
    assert in_process(["train", "game=g3", "steps=40", "checkpoint_every=20", *QUIET,
                       f"hydra.run.dir={target}"]).code == 0
    (target / "summary.json").unlink()          # as if killed after its last checkpoint
    garbage = runs / "garbage"
    shutil.copytree(keep, garbage)
    (garbage / "summary.json").write_text("{not json")
    baseline = {keep: snapshot(keep), garbage: snapshot(garbage)}
    afile = root / "a_file"
    afile.write_text("x")
    loop, huge = root / "loop.csv", root / "huge.npy"
    loop.symlink_to(loop)
    import numpy as np

    np.save(huge, np.full((600, 2), 1e300))
    evil = root / "evil"
    (evil / "game").mkdir(parents=True)
    (evil / "game" / "g9.yaml").write_text(f"_target_: os.system\nname: g3\ncommand: touch {root / 'pwned'}\n")

    # -- bad input: one line, no run directory -----------------------------------------------------------
    for args, message in [
        (["seed=abc"], "seed must be an integer"), (["converge_on=banana"], "converge_on must be one of"),
        (["ema=1.5"], "ema must be null or a number in [0, 1)"), (["plot_starts=-1"], "plot_starts must be"),
        (["game=mog", "algo=fr", "algo.solver.kind=exact"], "algo.solver.kind=exact builds the dense"),
        (["game=mog", "algo=iu", "algo.inner=newton"], "algo.inner=newton builds the dense"),
        (["game=mog", "hardware=ddp", "hardware.nproc=2", "game.batch.size=4999", "game.batch.dataset_size=4999"],
         "is not a multiple of 2"),
        (["checkpoint_every=-5"], "checkpoint_every must be"), (["diverge_norm=0"], "diverge_norm must be"),
        (["diverge_norm=-1"], "diverge_norm must be"), (["check_every=0"], "check_every must be"),
        (["algo.lr_x=abc"], "algo.lr_x must be a number"), (["algo=tgda", "algo.tau=-1"], "algo.tau must be"),
        (["algo=tgda", "algo.lr_y=${.nope}"], "algo.lr_y = ${.nope} cannot be computed"),
        (["algo=fr", "algo.solver.iters=0"], "algo.solver.iters must be"),
        (["+algo@pretrain.algo=gda", "pretrain.steps=2", "pretrain.algo.lr_x=-1"], "pretrain.algo.lr_x must be"),
        (["steps=-5"], "steps must be an integer >= 0"), (["log_every=abc"], "log_every must be"),
        (["tol=-1"], "tol must be"), (["hardware.dtype=float16"], "hardware.dtype must be one of"),
        (["hardware.threads=0"], "hardware.threads must be"), (["tensorboard=maybe"], "tensorboard must be"),
        (["game=nope"], "unknown game 'nope'"), (["algo=fancy"], "unknown algo 'fancy'"),
        (["foo=1"], "unknown config key 'foo'"), (["gamma"], "cannot parse override 'gamma'"),
        (["game=quadratic", "game.A=[[1.0,2.0]]"], "game.A must be square"), (["game.starts=0"], "game.starts must be"),
        (["game=g1,g2"], "add -m"), ([f"runs_root={afile}"], "is a file, not a directory"),
        ([f"runs_root={afile}/sub"], "is a file, not a directory"),
        # sizes and values that used to fail, hang or eat the machine inside the run
        (["hardware.threads=100000"], "more than this machine can run"),
        (["game.starts=1000000000"], "game.starts=1000000000 needs at least"),
        (["game=mog", "seeds=1000000"], "seeds=1000000 of 9,666 parameters each needs at least"),
        (["game=mog", "game.metrics.w1_samples=1000000000"], "game.metrics.w1_samples=1000000000 needs at least"),
        (["seed=1180591620717411303424"], "is out of range: seeds are 64-bit integers"),
        (["game=mog", "algo.lr_x=abc"], "algo.lr_x must be a number"),
        (["game=mog", f"game.data={loop}"], "or a symbolic link that leads nowhere"),
        (["game=mog", f"game.data={huge}"], "their squares overflow in float32"),
    ]:
        d.clean("train " + " ".join(args), ["train", *args, "steps=3"] if not args[0].startswith("steps") else
                ["train", *args], message)
    wide = root / "wide.npy"   # 12.8 MB on disk; networks and metric samples of its dimension: ~21 GiB
    np.save(wide, np.zeros((8, 200_000)))
    with _available(8 << 30):  # as on a machine with 8 GiB free, whatever this one has
        d.clean("train game=mog game.data=<(8, 200000) .npy>", ["train", "game=mog", f"game.data={wide}",
                                                                 "game.batch.size=8", "steps=3"],
                "(dimension 200,000: networks of 25,809,537 parameters")
    d.clean("analyze analyze.eps=-1", ["analyze", "analyze.eps=-1"], "analyze.eps must be")
    d.clean("analyze point=[1,2,3]", ["analyze", "game=g1", "point=[1.0,2.0,3.0]"], "point")
    d.clean("report of a missing path", ["report", str(root / "nowhere")], "no such file or directory")
    d.clean("report --plot x.weird", ["report", str(runs), "--plot", "x.weird"], "is not a figure format")
    d.clean("analyze with 1e308 entries", ["analyze", "game=quadratic", "game.A=[[1e308]]", "game.B=[[1e308]]",
                                           "game.C=[[1e308]]"], "too large to analyze in float64")

    # -- resume: a run directory is data ------------------------------------------------------------------
    d.clean("resume with steps below the checkpoint", ["train", f"resume={target}", "steps=10"], "beyond steps=10")
    d.clean("resume of a folder that is no run", ["train", f"resume={root}"], "is not a run directory")
    for name, edit, message in [
        ("resume: saved overrides name os.system", lambda r: (r / ".hydra/overrides.yaml").write_text(
            "- game._target_=os.system\n"), "neither conf/ nor this command line names"),
        ("resume: saved search path with an os.system game", lambda r: _saved_searchpath(r, evil), "was started with"),
        ("resume: corrupt checkpoint", lambda r: (r / "checkpoints/last.pt").write_bytes(b"garbage"), "unreadable"),
        ("resume: garbage overrides.yaml", lambda r: (r / ".hydra/overrides.yaml").write_text("- a\nb: [\n"),
         "is not readable yaml"),
        ("resume: a saved group option climbs out of conf/ to a yaml in the run", lambda r: (
            (r / "evil.yaml").write_text(f"_target_: os.system\nname: g3\ncommand: touch {root / 'pwned'}\n"),
            (r / ".hydra/overrides.yaml").write_text(f"- game={os.path.relpath(r / 'evil', REPO / 'conf' / 'game')}\n")),
         "is not an option of conf/game/"),
        ("resume: a saved override places a config into hydra.callbacks", lambda r: (
            r / ".hydra/overrides.yaml").write_text("- game=g3\n- +game@hydra.callbacks.x=g3\n"),
         "it places a config into hydra's own"),
        ("resume: a saved override reads ${oc.env:...}", lambda r: (r / ".hydra/overrides.yaml").write_text(
            "- game=g3\n- runs_root=${oc.env:HOME}\n"), "reads outside the config (oc.env)"),
        ("resume: metrics.jsonl is a symlink out of the run", lambda r: (
            (r / "metrics.jsonl").unlink(), (r / "metrics.jsonl").symlink_to(afile)), "is a symbolic link"),
        ("resume: overrides.yaml is an alias bomb", lambda r: (r / ".hydra/overrides.yaml").write_text(
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(12))),
         "YAML aliases; minimax writes none"),
        ("resume: overrides.yaml is a FIFO", lambda r: ((r / ".hydra/overrides.yaml").unlink(),
                                                       os.mkfifo(r / ".hydra/overrides.yaml")),
         "is not a regular file"),
        ("resume: run.lock is a directory", lambda r: ((r / ".hydra/run.lock").unlink(missing_ok=True),
                                                      (r / ".hydra/run.lock").mkdir()), "is not a lock file"),
    ]:
        copy = root / f"resume-{len(d.rows)}"
        shutil.copytree(target, copy)
        edit(copy)
        before = snapshot(copy)
        d.clean(name, ["train", f"resume={copy}", "steps=60"], message, runs=copy)
        if (root / "pwned").exists():
            d.rows[-1].verdict, d.rows[-1].detail = "unexpected", "code ran"
        elif snapshot(copy) != before:
            d.rows[-1].verdict, d.rows[-1].detail = "unexpected", "the run directory changed"

    # -- handled runs -------------------------------------------------------------------------------------
    single = runs / "singular"
    d.handled("g3 FR, one start with a singular follower Hessian",
              in_process(["train", "game=g3", "algo=fr", "game.starts=[[7.0,5.0],[0.0,300.0]]", "steps=20", *QUIET,
                          f"hydra.run.dir={single}"]), single, 0, "finished",
              lambda: None if json.loads((single / "summary.json").read_text())["fraction_diverged"] == 0.5
              else "fraction_diverged != 0.5")
    for name, env, override in [("MINIMAX_RUNS= (empty)", {"MINIMAX_RUNS": ""}, []),
                                ("runs_root= (empty)", {}, ["runs_root="])]:
        cwd = root / f"cwd-{len(d.rows)}"
        cwd.mkdir()
        result = child(["train", "steps=2", *QUIET, *override], env, cwd=cwd)
        made = list((cwd / "runs" / "g1" / "gda").glob("*"))
        d.handled(name, result, made[0] if made else cwd / "runs", 0, "finished")
    damaged = root / "damaged"
    shutil.copytree(target, damaged)
    with open(damaged / "metrics.jsonl", "ab") as fh:   # rows a resume must read around, not crash on
        fh.write(b'{}\n\xff\xfe\n[1, 2]\n{"step": 3, "loss": "high"}\n')
    d.handled("resume of a run whose metrics.jsonl has malformed rows",
              in_process(["train", f"resume={damaged}", "steps=60"]), damaged, 0, "finished")
    secret = runs / "secret"
    shutil.copytree(keep, secret)
    config = secret / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("name: gda", "name: ${oc.env:MINIMAX_DRILL_TOKEN}"))
    (secret / ".hydra" / "resolved.yaml").unlink(missing_ok=True)
    os.environ["MINIMAX_DRILL_TOKEN"] = "drill-token-42"
    leaked = in_process(["report", str(secret)])
    d.handled("report of a config with ${oc.env:TOKEN}", leaked, None, 0, None,
              lambda: None if "drill-token-42" not in leaked.out else "the token was printed")
    table = in_process(["report", str(runs)])
    d.handled("report with one garbage summary.json among good runs", table, None, 0, None,
              lambda: None if "unreadable" in table.out and "| g3 | gda |" in table.out else "no table")
    analyzed = in_process(["analyze", "game=quadratic", "game.A=[[1.0]]", "game.B=[[2.0]]", "game.C=[[0.0]]"])
    d.handled("analyze a degenerate point (never stable vs stable)", analyzed, None, 0, None,
              lambda: None if "never stable" not in analyzed.out and "stable for every τ > 0" in analyzed.out
              else "contradictory verdict")
    term = runs / "sigterm"
    d.handled("SIGTERM during a run (checkpoint_every set)",
              child(["train", "game=g3", "steps=100000000", "log_every=50", "checkpoint_every=100000", *QUIET,
                     f"hydra.run.dir={term}"], signal_after=(signal.SIGTERM, term, 3)), term, 143, "interrupted",
              lambda: _checkpoint_at_summary_step(term))
    full = root / "full" / "run"
    d.handled("disk full mid-run (RLIMIT_FSIZE 100 kB)",
              child(["train", "game=g3", "steps=1000000", "log_every=1", "checkpoint_every=50", "progress=false",
                     f"hydra.run.dir={full}"], limit_bytes=100_000), full, 1, "failed",
              lambda: None if "errno EFBIG" in json.loads((full / "summary.json").read_text())["error"] else "reason")
    d.handled("every write fails (RLIMIT_FSIZE 0): unusable runs root",
              child(["train", f"runs_root={root / 'zero'}", "steps=2"], limit_bytes=0), None, 2, None)
    hup = runs / "sighup"
    d.handled("SIGHUP during a run (the terminal closed)",
              child(["train", "game=g3", "steps=100000000", "log_every=50", "checkpoint_every=100000", *QUIET,
                     f"hydra.run.dir={hup}"], signal_after=(signal.SIGHUP, hup, 3)), hup, 129, "interrupted")
    if not quick:
        sweep = root / "sweep"
        result = child(["train", "-m", "game=g3", "steps=100000000", "log_every=50", "checkpoint_every=100000",
                        *QUIET, "hydra/launcher=local", f"hydra.sweep.dir={sweep}"],
                       signal_after=(signal.SIGUSR2, sweep, 3))
        job = next(iter(sweep.glob("0_*")), sweep)
        d.handled("SLURM pre-timeout signal (USR2) to a submitit job", result, job, 0, "interrupted")
    if not quick:
        for name, sig, group in [("SIGTERM to a parallel sweep (loky workers)", signal.SIGTERM, False),
                                 ("Ctrl-C (SIGINT to the process group) in a parallel sweep", signal.SIGINT, True)]:
            folder = root / f"parallel-{sig}"
            result = signalled_sweep(["train", "-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "game=g3",
                                      "steps=100000000", "log_every=50", *QUIET, "seed=0,1,2",
                                      f"hydra.sweep.dir={folder}"], sig, folder, running=2, group=group)
            jobs = sorted(p.parent for p in folder.rglob("metrics.jsonl"))
            d.started += jobs[1:]
            d.handled(name, result, jobs[0] if jobs else folder, 128 + sig, "interrupted",
                      lambda jobs=jobs, result=result: _sweep_stopped(jobs, result.out, 2, 3))
        colours = child(["train", "-m", "hparams_search=toy_tgda", "hydra.sweeper.n_trials=1", "steps=5", *QUIET,
                         f"hydra.sweep.dir={root / 'optuna'}"])
        d.handled("optuna sweep into a pipe (colour codes)", colours, None, 0, None,
                  lambda: "colour codes in the output" if "\x1b[" in colours.out else None)
        samples = root / "samples.npy"
        np.save(samples, np.random.default_rng(0).normal(size=(64, 2)))
        own = child(["train", "game=mog", f"game.data={samples}", "game.batch.size=32", "algo=hessianfr",
                     "game.generator._target_=tests.own_nets.Gen", "game.discriminator._target_=tests.own_nets.Disc",
                     "steps=3", *QUIET, f"hydra.run.dir={runs / 'own-nets'}"], env={"PYTHONWARNINGS": "error::FutureWarning"})
        d.handled("own networks: no FutureWarning (raised as errors)", own, runs / "own-nets", 0, "finished",
                  lambda: "a warning was printed" if "Warning" in own.out else None)
    baseline_ok = d.lost(baseline)
    return d.rows, baseline_ok


def _saved_searchpath(run: Path, folder: Path) -> None:
    import yaml

    hydra_file = run / ".hydra" / "hydra.yaml"
    saved = yaml.safe_load(hydra_file.read_text())
    saved["hydra"]["overrides"]["hydra"].append(f"hydra.searchpath=[file://{folder}]")
    hydra_file.write_text(yaml.safe_dump(saved))
    (run / ".hydra" / "overrides.yaml").write_text("- game=g9\n")


def _sweep_stopped(jobs: list[Path], out: str, started: int, total: int) -> str | None:
    """Every job that started ended interrupted, the others never started, and one line says so."""
    if len(jobs) != started:
        return f"{len(jobs)} jobs started, expected {started}"
    statuses = {json.loads((job / "summary.json").read_text())["status"] for job in jobs if (job / "summary.json").exists()}
    if statuses != {"interrupted"}:
        return f"statuses {sorted(statuses)}"
    last = out.strip().splitlines()[-1] if out.strip() else ""
    if f"stopped the sweep: {started} of {total} jobs had started" not in last:
        return f"last line: {last[:80]}"
    return None


@contextlib.contextmanager
def _available(nbytes: int):
    """The memory checks see ``nbytes`` available (in this process)."""
    from minimax_cli import memory

    real = memory.available_bytes
    memory.available_bytes = lambda: nbytes
    try:
        yield
    finally:
        memory.available_bytes = real


def _checkpoint_at_summary_step(run: Path) -> str | None:
    from minimax_cli import checkpoint

    step = json.loads((run / "summary.json").read_text())["step"]
    saved = checkpoint.load(checkpoint.path_in(run))["runner"]["step"]
    return None if saved == step else f"checkpoint at {saved}, summary at {step}"


def report(rows: list[Row], lost: list[str]) -> tuple[str, dict]:
    counts = {"faults tried": len(rows), "clean one-line errors": sum(r.verdict == "clean" for r in rows),
              "handled runs": sum(r.verdict == "handled" for r in rows),
              "tracebacks (must be 0)": sum(r.verdict == "traceback" for r in rows),
              "runs lost (must be 0)": len(lost), "unexpected (must be 0)": sum(r.verdict == "unexpected" for r in rows),
              "code executed (must be 0)": sum("code ran" in r.detail for r in rows)}
    lines = ["| fault | expected | verdict | detail |", "|---|---|---|---|"]
    lines += [f"| {r.fault} | {r.expect} | {r.verdict} | {r.detail.replace('|', '/')} |" for r in rows]
    lines += ["", "| " + " | ".join(counts) + " |", "|" + "---:|" * len(counts),
              "| " + " | ".join(str(v) for v in counts.values()) + " |"]
    lines += [f"- lost: {entry}" for entry in lost]
    return "\n".join(lines) + "\n", counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="leave out the slower child-process faults (CI)")
    parser.add_argument("--out", type=Path, help="keep the drill's runs in DIR (default: a temporary folder)")
    args = parser.parse_args(argv)
    saved = os.environ.get("MINIMAX_RUNS")
    with tempfile.TemporaryDirectory(prefix="minimax-drill-") as tmp:
        root = (args.out or Path(tmp)).absolute()
        root.mkdir(parents=True, exist_ok=True)
        try:
            rows, lost = run_drill(root, args.quick)
        finally:
            if saved is None:
                os.environ.pop("MINIMAX_RUNS", None)
            else:
                os.environ["MINIMAX_RUNS"] = saved
    text, counts = report(rows, lost)
    print(text)
    bad = sum(v for k, v in counts.items() if k.endswith("(must be 0)"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
