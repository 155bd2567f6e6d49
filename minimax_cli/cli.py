"""`minimax` — command-line entry point.

    minimax train [-m] [key=value ...]     one run, or a Hydra multirun sweep with -m
    minimax report PATH... [--by k,k] [--metric m] [--csv F] [--markdown F] [--plot F] [--status s]
                                           markdown table (and CSV, curves) over the runs under PATH
    minimax analyze [--json] [key=value ...]  local theory at a critical point (no run directory)
    minimax info [key=value ...]           games, algorithms, hardware, paper setups; with overrides, the
                                           effective algorithm values and where each came from
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from minimax_cli import launch
from minimax_cli.errors import MinimaxError
from minimax_cli.launch import PROG, check_overrides
from minimax_cli.reproduce import cli as reproduce_cli


def _catalog() -> str:
    from minimax_cli.catalog import list_options

    lines = []
    for group, title, syntax in (("game", "games", "game=..."), ("algo", "algorithms", "algo=..."),
                                 ("hardware", "hardware", "hardware=..."),
                                 ("experiment", "paper setups", "+experiment=..."),
                                 ("hparams_search", "tuning presets, with -m", "hparams_search=..."),
                                 ("hydra/launcher", "sweep launchers, with -m", "hydra/launcher=...")):
        options = list_options(group)
        if not options:
            continue
        lines.append(f"{title} ({syntax}):")
        if group == "experiment":  # each paper setup with the algorithms it plans for
            from minimax_cli.setups import planned_in_file

            options = [(name, f"[algo={','.join(planned_in_file(name))}] {text}") for name, text in options]
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
               "  minimax report runs/multirun --by game.name,algo.name --metric dist_to_eq\n"
               "  minimax analyze game=g1 algo=tgda algo.tau=4 --json\n\n" + _catalog())
    sub = parser.add_subparsers(dest="command", metavar="command")
    train = sub.add_parser("train", help="run one game x algorithm (Hydra overrides; -m for a sweep)",
                           description="Run a game with an algorithm; arguments are Hydra overrides "
                                       "(key=value). Outputs go to runs/<game>/<algo>/<time>/.")
    train.add_argument("-m", "--multirun", action="store_true", help="sweep over comma-separated values")
    train.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. game=g3 algo.lr_x=0.01")
    report = sub.add_parser(
        "report", help="tables (markdown, CSV) and curves over the runs under PATH...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Group the runs found under PATH... by config keys and print, per group, the number "
                    "of runs, their statuses and mean ± std (sample std) of each metric's final value. "
                    "Non-finite values are left out of mean/std and counted ([1 inf]); runs without a "
                    "summary.json show as running/killed.",
        epilog="examples:\n"
               "  minimax report runs/multirun/2026-01-01_12-00-00-000000\n"
               "  minimax report runs --by algo.name,algo.lr_x --metric grad_norm/y --csv table.csv\n"
               "  minimax report runs --status converged,finished --plot curves.png")
    report.add_argument("paths", nargs="+", metavar="PATH", help="run directories or folders holding runs")
    report.add_argument("--by", action="append", metavar="KEYS",
                        help="config keys (dot paths) to group by, comma-separated or repeated (default: "
                             "game.name, algo.name and every config key that differs across the runs, e.g. a "
                             "sweep's algo.tau; seeds are averaged; also: status, run)")
    report.add_argument("--metric", action="append", metavar="NAME",
                        help="a metric of summary.json/metrics.jsonl, repeatable (default: those of "
                             "w1, fid, kl, dist_to_eq, grad_norm/x, grad_norm/y the runs have)")
    report.add_argument("--status", action="append", metavar="STATUS",
                        help="keep only runs with these statuses (converged, diverged, finished, "
                             "interrupted, failed, running/killed, unreadable), comma-separated or repeated")
    report.add_argument("--csv", metavar="FILE", help="also write the table as CSV ('-': CSV on stdout instead "
                                                      "of markdown)")
    report.add_argument("--markdown", metavar="FILE", help="also write the markdown table to FILE")
    report.add_argument("--plot", metavar="FILE", help="PNG of each metric vs step: group mean, min–max band")
    analyze = sub.add_parser(
        "analyze", help="classify a critical point; spectra of the game and of the algorithm's step map; τ*",
        description="Local theory at a critical point (same overrides as train): classification, "
                    "game-Jacobian and step-map eigenvalues, τ* for τ-GDA, Liang & Stokes 2019 bounds for "
                    "bilinear games. point=null|k|[x...,y...]; analyze.* options in conf/config.yaml.")
    analyze.add_argument("--json", action="store_true", help="print one JSON object (same as output=json)")
    analyze.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. game=g1 algo=tgda point=[0.1,0.2]")
    info_parser = sub.add_parser(
        "info", help="list games, algorithms and hardware choices; with overrides, the effective "
                     "algorithm values and where each came from",
        description="Games, algorithms, hardware, paper setups. With overrides (e.g. game=mog algo=hessianfr): "
                    "the algorithm's effective values and their source (algo yaml, the game's or "
                    "experiment's setup, the command line).")
    info_parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. game=mog algo=hessianfr")
    reproduce_cli.add_parser(sub)
    return parser


# Hydra's own flags that take a value (``--cfg job``); ``--info`` takes an optional topic.
_HYDRA_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                      "--config-dir", "-cd", "--experimental-rerun"}
_HYDRA_INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def _split_hydra_flags(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Separate Hydra's flags (with their values) from minimax's own train arguments."""
    ours, hydra_flags, i = [], [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _HYDRA_VALUE_FLAGS and i + 1 < len(tokens):
            hydra_flags += tokens[i:i + 2]
            i += 2
            continue
        if tok in ("--info", "-i", "--resolve") or tok.split("=", 1)[0] in _HYDRA_VALUE_FLAGS | {"--info"}:
            hydra_flags.append(tok)
            if tok in ("--info", "-i") and i + 1 < len(tokens) and tokens[i + 1] in _HYDRA_INFO_TOPICS:
                hydra_flags.append(tokens[i + 1])
                i += 1
        else:
            ours.append(tok)
        i += 1
    return ours, hydra_flags


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    hydra_flags: list[str] = []
    if argv[:1] == ["train"]:
        rest, hydra_flags = _split_hydra_flags(argv[1:])
        argv = ["train", *rest]
    args, extra = parser.parse_known_args(argv)
    extra += hydra_flags
    # a log file on a full disk must not print logging's own traceback: the run reports the failure
    logging.raiseExceptions = False
    from minimax_cli import signals

    try:
        if args.command == "train":
            with signals.handled():
                return launch.train(args.overrides, args.multirun, extra)
        if args.command == "reproduce":
            with signals.handled():
                return reproduce_cli.command(args, extra)
        if args.command == "report":
            if extra:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            return report(args)
        if args.command == "analyze":
            if extra:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            return analyze(args.overrides, args.json)
        if args.command == "info":
            if extra:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            return info(args.overrides)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        parser.print_help()
        return 0
    except MinimaxError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SLURM's pre-timeout signal: 128 + its number
        detail = getattr(exc, "detail", None)   # a sweep's: what was stopped, what was not started
        print(f"{PROG}: interrupted" + (f": {detail}" if detail else ""), file=sys.stderr)
        return signals.exit_code(exc)
    except Exception as exc:  # a bug, not bad input: still one line (MINIMAX_DEBUG=1 shows the traceback)
        if os.environ.get("MINIMAX_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} (set MINIMAX_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def info(overrides: list[str]) -> int:
    """The catalog; with overrides, the effective algorithm values of that composition instead."""
    if not overrides:
        print(_catalog())
    else:
        from minimax_cli import setups
        from minimax_cli.config import resolved

        check_overrides(overrides)
        res = resolved(overrides, hydra_config=True)
        print(setups.describe(res).replace("# ", "", 1).replace("\n#   ", "\n  "))
    return 0


def _check_figure_format(path: str) -> None:
    """Before the table is built: a figure file name matplotlib can write."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    if suffix not in formats:
        raise MinimaxError(f"--plot {path}: {'.' + suffix if suffix else 'no suffix'} is not a figure format; "
                           f"end the name with one of {', '.join('.' + f for f in sorted(formats))}")


def report_table(paths, by=None, metrics=None, status=None, plot: str | None = None):
    """(the runs under ``paths``, their table: report.Table rows) as `minimax report` builds them;
    ``plot``: the figure file to come, whose name is checked first."""
    from minimax_cli import report as rep

    if plot:
        _check_figure_format(str(plot))
    runs = rep.collect_runs(paths, status=status)
    if not runs:
        raise MinimaxError(f"no run under {', '.join(map(str, paths))} has status {', '.join(status)}")
    return runs, rep.table(runs, by=by, metrics=metrics)


def report(args) -> int:
    from minimax_cli import report as rep

    runs, rows = report_table(args.paths, args.by, args.metric, args.status, args.plot)
    markdown = rep.to_markdown(rows, args.markdown)
    sys.stdout.write(rep.to_csv(rows) if args.csv == "-" else markdown)
    if args.csv == "-" and rows.caption:  # the CSV stays a table; what it is grouped by goes beside it
        print(f"{PROG}: {rows.caption}", file=sys.stderr)
    written = []
    if args.csv and args.csv != "-":
        rep.to_csv(rows, args.csv)
        written.append(args.csv)
    if args.markdown:
        written.append(args.markdown)
    if args.plot:
        written.append(str(rep.plot(runs, rows.by, rows.metrics, args.plot)))
    sys.stdout.flush()  # the table before the notes, when both go to one terminal or file
    for path in written:
        print(f"{PROG}: wrote {path}", file=sys.stderr)
    return 0


def analyze(overrides: list[str], as_json: bool) -> int:
    """`minimax analyze`: one configuration, a report on stdout (text, or one JSON object)."""
    import json

    from minimax_cli.analyze import format_text

    report, output = analysis(overrides)
    if as_json or output == "json":
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_text(report))
    return 0


def analysis(overrides: list[str]) -> tuple[dict, str]:
    """(the analysis report of one configuration, its ``analyze.output``), as `minimax analyze` makes them."""
    from minimax_cli.analyze import analyze as run_analysis
    from minimax_cli.config import expand_sweeps, prepare

    check_overrides(overrides)
    # `output=...` is short for `analyze.output=...`
    overrides = [f"analyze.{o}" if o.split("=", 1)[0] == "output" else o for o in overrides]
    if len(expand_sweeps(overrides)) > 1:
        raise MinimaxError("analyze takes one configuration, not a sweep (remove the comma-separated values)")
    run = prepare(overrides)
    return run_analysis(run), str(run.cfg.analyze.output)


if __name__ == "__main__":  # torchrun -m minimax_cli.cli train ...
    raise SystemExit(main())
