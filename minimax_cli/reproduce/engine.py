"""The reproduction engine: variants → one launch through Hydra's launcher → runs → the module's
tables, claims and figures.

A reproduction (one module of this package) declares its *variants*: a label and the `minimax
train` overrides that make it. The engine turns them into jobs (one per run directory), writes the
jobs to ``<out>/launch/<k>/jobs.yaml`` and starts them as ONE ``minimax train -m`` with
``hydra/sweeper=jobs`` (hydra_plugins/minimax_sweepers), so the user's ``hydra/launcher=...``
spreads the whole reproduction over cores or a cluster. Then it collects the run directories with
`minimax report`'s ``collect_runs`` and hands them to the module's ``analyze``.

Outputs live under the runs root only: ``<runs_root>/reproduce/<name>[-quick]/<time>/`` (or ``--out``).
A folder that already holds a reproduction of the same name is continued: a run with a summary is
kept, one with a checkpoint but no summary is resumed, one with neither is started again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from minimax_cli.errors import MinimaxError

MARK = "reproduction.json"     # what makes a folder a reproduction's output (and resumable)
DONE = ("converged", "diverged", "finished", "failed")   # a run with one of these statuses is kept


class ReproduceError(MinimaxError):
    """Bad input to `minimax reproduce` (one line, exit status 2)."""


@dataclass
class Variant:
    label: str
    overrides: list[str]
    seeds: tuple[int, ...] | None = (0,)   # None: the overrides choose (no seed override)
    vectorize: bool = True      # consecutive seeds as one vectorized run (False: one run per seed)
    dir: str | None = None      # its run directory under <out> (default runs/<label>/0), or the
                                # folder of its runs (<k>_seed<s>) when its seeds are separate runs
    groups: tuple[str, ...] = ()   # further names that --only selects it by (e.g. game, algorithm)
    name_runs: bool = True      # algo.name=<label>, so that `minimax report` groups by the variant

    def jobs(self) -> list["Job"]:
        runs = ([seed_overrides(self.seeds, True)] if self.vectorize or len(self.seeds or ()) < 2
                else [[f"seed={s}"] for s in self.seeds]) if self.seeds else [[]]
        named = [f"algo.name={self.label}"] if self.name_runs else []
        base = self.dir or f"runs/{self.label}"
        if len(runs) == 1:
            return [Job(self.label, self.dir or f"{base}/0", [*self.overrides, *named, *runs[0]])]
        return [Job(self.label, f"{base}/{k}_seed{s}", [*self.overrides, *named, *seeds])
                for k, (s, seeds) in enumerate(zip(self.seeds, runs))]


@dataclass
class Job:
    label: str
    dir: str                    # relative to the reproduction's output folder
    overrides: list[str]


@dataclass
class Claim:
    text: str
    ok: bool | None          # None: could not be evaluated (a run missing)
    scope: str = "both"      # both | full


@dataclass
class Result:
    runs: list = field(default_factory=list)
    by_label: dict = field(default_factory=dict)


@dataclass
class Context:
    """What a reproduction's ``analyze`` gets: where, which setting, the runs, what this call did."""
    name: str
    out: Path
    quick: bool
    variants: list[Variant]
    result: Result
    launched: list[tuple[str, str]] = field(default_factory=list)   # (run dir, ran | resumed | kept | failed)
    overrides: list[str] = field(default_factory=list)              # the user's extra overrides
    seconds: float = 0.0                                            # this call's launch, wall clock


@dataclass
class Reproduction:
    name: str
    paper: str                  # authors + year, figure/table
    cost: str                   # full and quick, on a 2-core CPU (as measured)
    variants: Callable[..., list[Variant]]   # (quick), or (quick, the user's overrides) with wants_overrides
    analyze: Callable[[Context], int]
    prepare: Callable[[Path, bool], list[str]] | None = None   # before the launch: overrides for every job
    common: list[str] = field(default_factory=list)            # overrides of every run
    estimate: Callable[[], list[Variant]] | None = None        # --estimate: the variants it times
    quick_suffix: str = "-quick"
    wants_overrides: bool = False   # the variants depend on the user's overrides (e.g. sizes for hardware=cuda)


def seed_overrides(seeds, vectorize: bool = True) -> list[str]:
    """Consecutive seeds as one vectorized run (``seed=s seeds=S``); any other list as a sweep."""
    seeds = [int(s) for s in seeds]
    if vectorize and len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return [f"seed={seeds[0]}", f"seeds={len(seeds)}"]
    return [f"seed={','.join(map(str, seeds))}"]


def select(variants: list[Variant], only: list[str]) -> list[Variant]:
    """The variants --only names: by label, or by group values (names on one axis are alternatives,
    names on different axes all apply: ``mnist_cnn,hfr_cg1`` = that optimizer on that setting)."""
    if not only:
        return variants
    wanted = set(only)
    labels = {v.label for v in variants}
    axes = [{v.groups[i] for v in variants if len(v.groups) > i} for i in range(max(len(v.groups) for v in variants))]
    unknown = [n for n in only if n not in labels and not any(n in axis for axis in axes)]
    if unknown:
        raise ReproduceError(f"--only: unknown name(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(labels.union(*axes)))}")
    named = [wanted & axis for axis in axes]

    def kept(v: Variant) -> bool:
        if v.label in wanted:
            return True
        return any(named) and all(not n or (i < len(v.groups) and v.groups[i] in n) for i, n in enumerate(named))

    return [v for v in variants if kept(v)]


def quoted(value) -> str:
    """A value as a Hydra override writes it: quoted when it holds more than a plain path's characters."""
    text = str(value)
    if all(c.isalnum() or c in "_/.-:+@~%" for c in text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- where ------------------------------------------------------------------------------------------------
def runs_root(overrides: list[str] = ()) -> Path:
    """The runs root `minimax train` uses: runs_root=... among the overrides, else $MINIMAX_RUNS;
    empty or unset = runs (conf/config.yaml)."""
    given = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == "runs_root"]
    root = (given[-1] if given else os.environ.get("MINIMAX_RUNS", "")).strip()
    return Path(root or "runs")


def output_dir(name: str, out: Path | None, root: Path | None = None) -> Path:
    """``out``, or <runs root>/reproduce/<name>/<time>; an existing non-empty folder only when it
    holds an earlier call of the same reproduction (it is then continued, never overwritten)."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(out) if out else (root or runs_root()) / "reproduce" / name / stamp
    if out.exists() and any(out.iterdir()):
        mark = out / MARK
        if not mark.is_file() or json.loads(mark.read_text()).get("name") != name:
            raise ReproduceError(f"{out} is not empty; choose another --out (results are never overwritten; "
                                 f"an interrupted `{name}` is continued with its own --out)")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


# -- launching ---------------------------------------------------------------------------------------------
def state_of(run_dir: Path) -> str:
    """kept (a summary with a final status), resume (a checkpoint), fresh (nothing usable)."""
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            if json.loads(summary.read_text()).get("status") in DONE:
                return "kept"
        except (OSError, ValueError):
            pass
    if (run_dir / "checkpoints" / "last.pt").is_file():
        return "resume"
    return "fresh"


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(Hydra's own: the launcher, its settings; the rest: values for every run)."""
    hydra = [o for o in overrides if o.lstrip("+~").startswith(("hydra/", "hydra."))]
    return hydra, [o for o in overrides if o not in hydra]


def launch(jobs: list[Job], out: Path, hydra_overrides: list[str] = ()) -> list[tuple[str, str]]:
    """Every job not yet done, as ONE `minimax train -m` (hydra/sweeper=jobs); returns what
    happened to each job's run directory."""
    import yaml

    from minimax_cli.launch import train

    todo, done = [], []
    for job in jobs:
        run_dir = out / job.dir
        state = state_of(run_dir)
        if state == "kept":
            done.append((job.dir, "kept"))
            continue
        if state == "fresh" and run_dir.exists():   # started, but nothing to resume from
            shutil.rmtree(run_dir)
        extra = ["resume=true"] if state == "resume" else []
        todo.append((job, [*job.overrides, *extra, f"hydra.sweep.dir={quoted(out)}", f"hydra.sweep.subdir={job.dir}"]))
        done.append((job.dir, "resumed" if extra else "ran"))
    if not todo:
        return done
    launches = out / "launch"
    k = len(list(launches.iterdir())) if launches.is_dir() else 0
    sweep = launches / str(k)
    sweep.mkdir(parents=True)
    (sweep / "jobs.yaml").write_text(yaml.safe_dump([o for _, o in todo], width=1000))
    args = ["hydra/sweeper=jobs", f"hydra.sweeper.jobs={quoted(sweep / 'jobs.yaml')}",
            f"hydra.sweep.dir={quoted(sweep)}", *hydra_overrides]
    print(f"$ minimax train -m {' '.join(args)}   # {len(todo)} run(s)", flush=True)
    code = train(args, multirun=True, hydra_flags=[])
    if code != 0:
        print(f"minimax reproduce: the launch ended with exit status {code}", flush=True)
    return [(d, w if w == "kept" or _succeeded(out / d) else f"failed ({w})") for d, w in done]


def _succeeded(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "summary.json").read_text()).get("status") in ("converged", "diverged", "finished")
    except (OSError, ValueError):
        return False


def collect(out: Path) -> Result:
    """The runs under <out>/runs (minimax report), by variant label (``algo.name``)."""
    from minimax_cli import report

    runs = report.collect_runs([out / "runs"]) if (out / "runs").is_dir() else []
    by_label: dict[str, list] = {}
    for run in runs:
        by_label.setdefault(run.get("algo.name"), []).append(run)
    return Result(runs, by_label)


def check_jobs(jobs: list[Job]) -> None:
    """Every job composes and passes the run checks before anything starts (one line otherwise)."""
    from minimax_cli.checks import check_run
    from minimax_cli.config import compose

    for job in jobs:
        try:
            check_run(compose(job.overrides))
        except MinimaxError as exc:
            raise ReproduceError(f"{job.label}: {exc}") from None


def output_name(rep: Reproduction, quick: bool) -> str:
    """The reproduction's name in its output folder and mark: ``-quick`` added for the reduced setting."""
    return rep.name + (rep.quick_suffix if quick else "")


def run(rep: Reproduction, *, quick: bool = False, only: list[str] = (), out: Path | None = None,
        reanalyze: Path | None = None, overrides: list[str] = ()) -> int:
    """The whole reproduction (or, with ``reanalyze``, only its analysis); returns the exit status:
    0, or 1 when a checked claim fails or a run failed."""
    hydra_overrides, values = split_overrides(list(overrides))
    variants = select(rep.variants(quick, values) if rep.wants_overrides else rep.variants(quick), list(only))
    if reanalyze is not None:
        out = Path(reanalyze)
        if not (out / "runs").is_dir():
            raise ReproduceError(f"--reanalyze needs the folder of an earlier reproduction (with runs/): {out}")
        if not only and (out / MARK).is_file():   # the variants that call ran (an earlier --only)
            ran = {job["label"] for job in json.loads((out / MARK).read_text()).get("jobs", [])}
            variants = [v for v in variants if v.label in ran] or variants
        ctx = Context(rep.name, out.resolve(), quick, variants, collect(out), [], values)
        return rep.analyze(ctx)
    out = output_dir(output_name(rep, quick), out, runs_root(values))
    extra = rep.prepare(out, quick) if rep.prepare else []
    from minimax_cli.config import merge_overrides

    jobs = [Job(j.label, j.dir, merge_overrides(j.overrides, [*rep.common, *extra, *values]))
            for v in variants for j in v.jobs()]
    (out / MARK).write_text(json.dumps({"name": output_name(rep, quick), "quick": quick,
                                        "jobs": [vars(j) for j in jobs]}, indent=1) + "\n")
    check_jobs([j for j in jobs if state_of(out / j.dir) != "kept"])
    started = time.perf_counter()
    launched = launch(jobs, out, hydra_overrides)
    ctx = Context(rep.name, out, quick, variants, collect(out), launched, values, time.perf_counter() - started)
    code = rep.analyze(ctx)
    failed = [d for d, what in launched if what.startswith("failed")]
    if failed:
        print(f"minimax reproduce: {len(failed)} run(s) failed: {', '.join(failed)}")
    return max(code, 1 if failed else 0)
