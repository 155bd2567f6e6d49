"""`minimax` — command-line entry point.

    minimax train [-m] [key=value ...]     one run, or a Hydra multirun sweep with -m
    minimax analyze [--json] [key=value ...]  local theory at a critical point (no run directory)
    minimax info                           games, algorithms and hardware choices
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minimax_cli.errors import MinimaxError

PROG = "minimax"


def _catalog() -> str:
    from minimax_cli.config import list_options

    lines = []
    for group, title in (("game", "games"), ("algo", "algorithms"), ("hardware", "hardware")):
        lines.append(f"{title} ({group}=...):")
        options = list_options(group)
        width = max(len(name) for name, _ in options)
        lines += [f"  {name:<{width}}  {text}" for name, text in options]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Experiment runner for min-max (two-player, sequential) game optimization.",
        epilog="examples:\n"
               "  minimax train                                   g1 with GDA (the defaults)\n"
               "  minimax train game=g3 algo=gda_alt steps=2000 seed=3\n"
               "  minimax train -m game=g1,g2,g3 algo=gda,tgda algo.tau=1,4\n"
               "  minimax analyze game=g1 algo=tgda algo.tau=4 --json\n\n" + _catalog())
    sub = parser.add_subparsers(dest="command", metavar="command")
    train = sub.add_parser("train", help="run one game x algorithm (Hydra overrides; -m for a sweep)",
                           description="Run a game with an algorithm; arguments are Hydra overrides "
                                       "(key=value). Outputs go to runs/<game>/<algo>/<time>/.")
    train.add_argument("-m", "--multirun", action="store_true", help="sweep over comma-separated values")
    train.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. game=g3 algo.lr_x=0.01")
    analyze = sub.add_parser(
        "analyze", help="classify a critical point; spectra of the game and of the algorithm's step map; τ*",
        description="Local theory at a critical point (same overrides as train): classification, "
                    "game-Jacobian and step-map eigenvalues, τ* for τ-GDA, seed 004 bounds for "
                    "bilinear games. point=null|k|[x...,y...]; analyze.* options in conf/config.yaml.")
    analyze.add_argument("--json", action="store_true", help="print one JSON object (same as output=json)")
    analyze.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. game=g1 algo=tgda point=[0.1,0.2]")
    sub.add_parser("info", help="list games, algorithms and hardware choices")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    # Hydra flags (--cfg job, --info, -p ...) after `train` pass through untouched.
    args, extra = parser.parse_known_args(argv)
    try:
        if args.command == "train":
            return train(args.overrides, args.multirun, extra)
        if args.command == "analyze":
            if extra:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            return analyze(args.overrides, args.json)
        if args.command == "info":
            print(_catalog())
            return 0
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        parser.print_help()
        return 0
    except MinimaxError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def train(overrides: list[str], multirun: bool, hydra_flags: list[str]) -> int:
    from minimax_cli.config import check_run, compose, expand_sweeps

    _check_overrides(overrides)
    jobs = expand_sweeps(overrides) if multirun else [overrides]
    if not multirun and len(expand_sweeps(overrides)) > 1:
        raise MinimaxError("comma-separated values make a sweep: add -m (minimax train -m ...)")
    for i, job in enumerate(jobs):
        cfg = compose(job, hydra_config=i == 0)
        check_run(cfg)
        if i == 0:
            _guard_run_dir(cfg, multirun)
    from minimax_cli import train as train_mod

    train_mod.EXIT["code"] = 0
    sys.argv = [PROG] + (["--multirun"] if multirun else []) + hydra_flags + overrides
    train_mod.hydra_entry()
    return train_mod.EXIT["code"]


def analyze(overrides: list[str], as_json: bool) -> int:
    """`minimax analyze`: one configuration, a report on stdout (text, or one JSON object)."""
    import json

    from minimax_cli.analyze import analyze as run_analysis
    from minimax_cli.analyze import format_text
    from minimax_cli.config import compose, expand_sweeps

    _check_overrides(overrides)
    # `output=...` is short for `analyze.output=...`
    overrides = [f"analyze.{o}" if o.split("=", 1)[0] == "output" else o for o in overrides]
    if len(expand_sweeps(overrides)) > 1:
        raise MinimaxError("analyze takes one configuration, not a sweep (remove the comma-separated values)")
    cfg = compose(overrides)
    report = run_analysis(cfg)
    if as_json or cfg.analyze.output == "json":
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_text(report))
    return 0


def _check_overrides(overrides: list[str]) -> None:
    bad = [o for o in overrides if "=" not in o and not o.startswith("~")]
    if bad:
        raise MinimaxError(f"cannot parse override {bad[0]!r}: write key=value (e.g. game=g3, algo.lr_x=0.01)")


def _guard_run_dir(cfg, multirun: bool) -> None:
    """Refuse to reuse a directory that already holds results (Hydra would overwrite them)."""
    key = "sweep" if multirun else "run"
    target = Path(str(cfg.hydra[key].dir))
    if not target.exists():
        return
    marks = ("summary.json", "metrics.jsonl")
    found = [p for m in marks for p in (target.rglob(m) if multirun else [target / m]) if p.exists()]
    if found:
        raise MinimaxError(f"{target} already holds a run ({found[0].name}); choose another "
                           f"hydra.{key}.dir (or leave it at its default timestamped directory)")
