"""Reading a file of a run directory, which is untrusted input: only a regular file (a FIFO would
block the reader forever, a device would never end), of a bounded size, and YAML without alias
bombs (a few lines that expand to 10⁹ nodes)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from minimax_cli.errors import DataError

#: more than any file minimax writes into a run directory's .hydra/ or summary.json
LIMIT = 64 << 20
#: YAML aliases (``*name``) a run's config may use: minimax writes none
MAX_ALIASES = 100


def read_text(path: Path, limit: int = LIMIT) -> str:
    """The text of ``path``; DataError (one line) if it is not a regular file, is larger than
    ``limit`` bytes, or cannot be read."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{path} is not a regular file (a FIFO, device or directory); a run directory's files "
                            f"are plain files")
        if info.st_size > limit:
            raise DataError(f"{path} is {info.st_size:,} bytes, more than a run's file holds ({limit:,}); "
                            f"it is not minimax's")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text") from None


def load_yaml(path: Path):
    """``yaml.safe_load`` of a run's file, refusing alias bombs; DataError on anything wrong."""
    import yaml

    text = read_text(path)
    try:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))
        if aliases > MAX_ALIASES:
            raise DataError(f"{path} uses {aliases} YAML aliases; minimax writes none (a file that expands to a "
                            f"huge document is refused)")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{path} is not readable yaml ({' '.join(str(exc).split())[:200]})") from None
