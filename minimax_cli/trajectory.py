"""The plotted paths of a 2-D game's starts: one row (P, 2) per step, P <= plot_starts.

A long run's path outgrows memory and, worse, checkpoints, which used to carry it whole (4.5 MB
at step 282k, rewritten at every checkpoint). Here rows wait in memory until a checkpoint (or
``SPILL_ROWS`` of them) and are then appended to ``<run dir>/checkpoints/trajectory.bin``: raw
rows in the game's dtype, C order, nothing else. A checkpoint records only how many rows the file
held when it was taken; a resumed run cuts the file back to that many (rows a killed process
appended after its last checkpoint are dropped, like the rows of metrics.jsonl), so a resumed
run's path is row for row an uninterrupted one's. Without a file (a Runner used as a library)
everything stays in memory and a checkpoint carries the rows as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from minimax_cli.errors import DataError

NAME = "trajectory.bin"
#: rows kept in memory before they are appended to the file even without a checkpoint
SPILL_ROWS = 1 << 16


def path_in(run_dir: Path, phase: str = "main") -> Path:
    """The append-only file of a 2-D game's plotted paths, beside the checkpoint that counts its
    rows (one per phase: the main phase must not cut the rows a pre-training checkpoint counts)."""
    name = NAME if phase == "main" else NAME.replace(".", f"-{phase}.", 1)
    return Path(run_dir) / "checkpoints" / name


class TrajectoryLog:
    def __init__(self, like: torch.Tensor, path: Path | None = None):
        self.shape, self.dtype = tuple(like.shape), like.dtype
        self.path = None if path is None else Path(path)
        self._pending: list[torch.Tensor] = []
        self._chunks: list[torch.Tensor] = []     # in-memory history (no file), stacked in blocks
        self.saved = 0                             # rows in the file

    @classmethod
    def start(cls, first: torch.Tensor, path: Path | None = None) -> "TrajectoryLog":
        """A new path whose first row is ``first`` (an existing file is emptied)."""
        log = cls(first, path)
        if log.path is not None and log.path.exists():
            os.truncate(log.path, 0)
        log.append(first)
        return log

    @classmethod
    def restore(cls, like: torch.Tensor, path: Path | None, payload: dict) -> "TrajectoryLog":
        """The path as a checkpoint's ``payload`` left it: ``trajectory_rows`` rows of the file,
        or (checkpoints without a file) the rows it carries in ``trajectory``."""
        log = cls(like, path)
        rows = payload.get("trajectory_rows")
        if rows is None:  # the rows are in the checkpoint itself
            if log.path is not None and log.path.exists():
                os.truncate(log.path, 0)
            for row in payload["trajectory"].unbind(0):
                log.append(row)
            return log
        if log.path is None:
            raise DataError("this checkpoint keeps its trajectory in checkpoints/trajectory.bin; resume it "
                            "from its run directory")
        size = log.path.stat().st_size if log.path.exists() else 0
        if size < rows * log._row_bytes:
            raise DataError(f"{log.path} holds {size // log._row_bytes} rows of the plotted trajectory, the "
                            f"checkpoint needs {rows}; it was truncated or deleted, nothing was changed")
        os.truncate(log.path, rows * log._row_bytes)
        log.saved = int(rows)
        return log

    @property
    def _row_bytes(self) -> int:
        return int(np.prod(self.shape)) * torch.empty((), dtype=self.dtype).element_size()

    def __len__(self) -> int:
        return self.saved + sum(len(c) for c in self._chunks) + len(self._pending)

    def append(self, row: torch.Tensor) -> None:
        self._pending.append(row.detach())  # (the caller's copy; moved to the CPU block by block)
        if len(self._pending) >= SPILL_ROWS:
            self.spill() if self.path is not None else self._stack()

    def _stack(self) -> None:
        if self._pending:
            self._chunks.append(torch.stack(self._pending).cpu())
            self._pending = []

    def spill(self) -> None:
        """Append the rows held in memory to the file (flushed to disk before a checkpoint names them)."""
        if self.path is None or not self._pending:
            return
        block = torch.stack(self._pending).cpu().contiguous().numpy()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fh.write(block.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        self.saved += len(block)
        self._pending = []

    def payload(self) -> dict:
        """What a checkpoint keeps: the row count (the rows are on disk), or the rows themselves."""
        if self.path is None:
            return {"trajectory": self.tensor(), "trajectory_rows": None}
        self.spill()
        return {"trajectory": None, "trajectory_rows": self.saved}

    def tensor(self) -> torch.Tensor:
        """Every row so far, (T, P, 2)."""
        parts = []
        if self.saved:
            dtype = torch.empty((), dtype=self.dtype).numpy().dtype
            flat = np.fromfile(self.path, dtype=dtype, count=self.saved * int(np.prod(self.shape)))
            parts.append(torch.from_numpy(flat.reshape(self.saved, *self.shape)))
        parts += self._chunks + ([torch.stack(self._pending).cpu()] if self._pending else [])
        return torch.cat(parts) if parts else torch.empty((0, *self.shape), dtype=self.dtype)
