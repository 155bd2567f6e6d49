"""The training loop as parts (docs/runner.md):

    settings.py  LoopSettings: what the loop is told (cadences, stopping rules, outlets)
    loop.py      Runner: the cadences (step, check, log, checkpoint) and the run loop
    lanes.py     the lanes: one trajectory, N analytic starts or S seeds, chosen once
    points.py    derivatives at every analytic start's point, for all starts at once
    lanemap.py   vmap over lanes with flat arguments
    rows.py      the row writers: one row per run, or one per seed
    state.py     statuses, the loop's bookkeeping (checkpoint payload) and RunResult
"""

from minimax_cli.runner.loop import HEADLINE, Runner, _warm_up_torch_func
from minimax_cli.runner.settings import CONVERGE_ON, LoopSettings, default_metrics_every
from minimax_cli.runner.state import CONVERGED, DIVERGED, RUNNING, STATUS_NAMES, RunResult

__all__ = ["CONVERGE_ON", "CONVERGED", "DIVERGED", "HEADLINE", "LoopSettings", "RUNNING", "STATUS_NAMES", "RunResult",
           "Runner", "_warm_up_torch_func", "default_metrics_every"]
