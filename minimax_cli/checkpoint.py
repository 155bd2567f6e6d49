"""Checkpoints that survive kill -9, and exact resume.

A checkpoint (``<run dir>/checkpoints/last.pt``) holds everything a run needs to continue bit for
bit on the same device: the algorithm state (players, momentum, Adam/RMSprop moments, damping,
previous iterates), the loop's bookkeeping (step, per-start status, cost windows, EMA, the length
of the plotted trajectory, whose rows go to the append-only ``checkpoints/trajectory.bin``:
trajectory.py), the game's own state (data sampler generator, spectral-norm vectors), every RNG
state, the phase (pre-training or main) and a fingerprint of the config. It is written
atomically (temp file, fsync, rename), so a kill at any moment leaves either the previous or the
new checkpoint (a write that fails, e.g. on a full disk, removes its temp file and leaves the
previous checkpoint as it was), and it is read with ``torch.load(weights_only=True)``: tensors, numbers and
strings only, nothing executable.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from minimax_cli.errors import DataError

FORMAT = 1
NAME = "last.pt"
#: config keys a resumed run may change: they do not alter the trajectory
VOLATILE = ("steps", "resume", "checkpoint_every", "progress", "plot", "seed_figures", "tensorboard", "logger", "runs_root",
            "objective", "hardware.threads", "hardware.timeout_s")


def path_in(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / NAME


def save(path: Path, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, a signal: the previous checkpoint stays, no partial file is left
        tmp.unlink(missing_ok=True)
        raise


class Saver:
    """A run's checkpoint writer: a phase's loop payload (the runner hands it over) with the RNG
    and game states, the config's fingerprint and the pretraining phase's summary entry."""

    def __init__(self, run_dir: Path, game, fingerprint: dict):
        self.path, self.game, self.fingerprint = path_in(run_dir), game, fingerprint

    def save(self, phase: str, pretrain: dict | None, payload: dict) -> None:
        save(self.path, {"phase": phase, "runner": payload, "rng": rng_state(), "game": self.game.state_dict(),
                         "config": self.fingerprint, "pretrain": pretrain})


def load(path: Path) -> dict:
    """Read a checkpoint; one clear line if it is missing, corrupt or not ours."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no checkpoint at {path} (the run wrote none: checkpoint_every was 0, or it "
                        "stopped before its first checkpoint)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, foreign pickle, not a zip archive ...
        raise DataError(f"checkpoint {path} is unreadable: corrupt, truncated or not written by minimax "
                        f"({type(exc).__name__}); nothing was changed") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path} is not a minimax checkpoint (format {FORMAT}); nothing was changed")
    return payload


def to_device(tree, device):
    """Every tensor of a (nested dict/list) payload moved to ``device``."""
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: to_device(v, device) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_device(v, device) for v in tree)
    return tree


# -- the config a checkpoint belongs to ------------------------------------------------------------
def fingerprint(cfg: DictConfig) -> dict:
    """The resolved config without hydra's node and the keys a resume may change (flat dot keys)."""
    # hydra's own node only resolves inside a running job: leave it out before resolving
    job = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    container = OmegaConf.to_container(job, resolve=True)
    flat = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(container, "")
    return {k: v for k, v in flat.items() if not any(k == v_ or k.startswith(v_ + ".") for v_ in VOLATILE)}


#: keys added after checkpoints were first written, with the value that reproduces the runs before
#: them: a checkpoint written without such a key matches that value
ADDED_KEYS = {"seeds": 1, "hardware.seed_chunk": None}


def check_config(payload: dict, cfg: DictConfig, path: Path) -> None:
    saved, now = payload.get("config", {}), fingerprint(cfg)
    saved = {**{k: v for k, v in ADDED_KEYS.items() if k in now}, **saved}
    differ = sorted(k for k in set(saved) | set(now) if saved.get(k, "<absent>") != now.get(k, "<absent>"))
    if differ:
        shown = ", ".join(f"{k}: {saved.get(k, '<absent>')!r} -> {now.get(k, '<absent>')!r}" for k in differ[:4])
        more = f" (+{len(differ) - 4} more)" if len(differ) > 4 else ""
        raise DataError(f"checkpoint {path} belongs to another config ({shown}{more}); only "
                        f"{', '.join(VOLATILE)} may change on resume; nothing was changed")


def resume_payload(resume: str | None, cfg: DictConfig, run_dir: Path, device) -> dict | None:
    """The checkpoint a run continues from (``resume``: None, "true" for the run's own last one, or
    a checkpoint's path), checked against ``cfg``, with the loop's tensors on the run's device (RNG
    states stay on the CPU, where torch wants them)."""
    if resume is None:
        return None
    path = path_in(run_dir) if resume == "true" else Path(resume)
    payload = load(path)
    check_config(payload, cfg, path)
    payload["runner"] = to_device(payload["runner"], device)
    return payload


# -- random number generators ---------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (a run's, or an analysis's, one seed)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value):
    # random.setstate needs tuples where the round trip may have produced lists
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
