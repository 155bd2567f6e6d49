"""Experiment trackers a run also logs to (``logger=mlflow``, ``logger=[tensorboard,wandb]``, ...).

RunLog (runlog.py) calls them: each row once it is final, the figures and summary.json at the end,
the run's status, the close. Each library is imported only when its tracker is selected, and a
tracker that fails costs the run one warning (base.py). docs/trackers.md
"""

from minimax_cli.trackers.base import IDS_FILE, Tracker, Trackers, TrackerSettings
from minimax_cli.trackers.settings import TRACKERS, flatten, loggers, settings_of

__all__ = ["IDS_FILE", "TRACKERS", "Tracker", "TrackerSettings", "Trackers", "flatten", "loggers", "settings_of"]
