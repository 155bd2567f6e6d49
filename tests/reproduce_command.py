"""`minimax reproduce ...` run in this process, as the command line runs it."""

from minimax_cli.cli import main


def reproduce(argv: list[str]) -> int:
    return main(["reproduce", *argv])
