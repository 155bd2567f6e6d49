"""`minimax reproduce NAME [--quick] [--estimate] [--reanalyze DIR] [--only A,B] [--out DIR] [overrides]`
and `minimax reproduce --list`."""

from __future__ import annotations

from pathlib import Path


def add_parser(commands) -> None:
    """The `reproduce` subcommand of the minimax CLI."""
    p = commands.add_parser("reproduce", help="reproduce a paper's figure or table (minimax reproduce --list)",
                            description="Run a paper reproduction: its variants as one Hydra launch (extra "
                            "overrides such as hydra/launcher=parallel go to it), then its tables, claims "
                            "(✓/✗; exit 1 when one fails) and figures under <runs root>/reproduce/.")
    p.add_argument("name", nargs="?", help="the reproduction (see --list)")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run, e.g. hydra/launcher=parallel")
    p.add_argument("--list", action="store_true", help="list the reproductions with their papers and costs")
    p.add_argument("--quick", action="store_true", help="the reduced (CI) setting: minutes on a CPU")
    p.add_argument("--estimate", action="store_true", help="time a few steps of every full-setting variant "
                   "and print the projected duration (no runs written)")
    p.add_argument("--reanalyze", type=Path, metavar="DIR",
                   help="rebuild tables, claims and figures from the runs already in DIR (no training)")
    p.add_argument("--only", default="", metavar="A,B", help="comma-separated variant names (or their groups) to run")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default <runs root>/reproduce/"
                   "<name>[-quick]/<time>); the folder of an interrupted call continues it")


def command(args, extra: list[str] = ()) -> int:
    from minimax_cli.reproduce import engine, registry

    flags = [e for e in extra if e.startswith("-")]
    if flags:
        raise engine.ReproduceError(f"unrecognized arguments: {' '.join(flags)} (minimax reproduce --help)")
    args.overrides = [*args.overrides, *extra]   # overrides after an option land here (argparse)
    if args.list:
        return list_all()
    if not args.name:
        raise engine.ReproduceError("name a reproduction (minimax reproduce --list)")
    rep = registry.get(args.name)
    if args.estimate:
        if rep.estimate is None:
            raise engine.ReproduceError(f"{rep.name} has no --estimate (its cost: {rep.cost})")
        from minimax_cli.reproduce.estimate import estimate

        return 0 if estimate(rep.estimate()) else 1
    only = [n for n in args.only.split(",") if n]
    return engine.run(rep, quick=args.quick, only=only, out=args.out, reanalyze=args.reanalyze,
                      overrides=list(args.overrides))


def list_all() -> int:
    from minimax_cli.reproduce import registry

    reps = registry.every()
    width = max(len(r.name) for r in reps)
    for r in reps:
        print(f"{r.name:{width}s}  {r.paper}\n{'':{width}s}  cost: {r.cost}")
    return 0
