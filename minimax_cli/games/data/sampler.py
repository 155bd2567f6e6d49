"""Mini-batch indices, deterministic under a torch.Generator and resumable from a checkpoint.

``EpochSampler`` draws batches without replacement from a permutation of range(n) that is
redrawn at each epoch, dropping the incomplete last batch (what a DataLoader with
``shuffle=True, drop_last=True`` does, as in the GAN_stability/WGAN-GP training loops). The
generator lives on the device the indices are used on, so a step needs no host round trip; its
state (and the current permutation and position) is saved with ``state_dict`` and restored with
``load_state_dict``: a restored sampler continues with exactly the batches the original would
have produced. Sequences are reproducible per device type (CPU and CUDA generators differ).
"""

from __future__ import annotations

import torch

from minimax_cli.errors import ConfigError, DataError


class EpochSampler:
    def __init__(self, n: int, batch_size: int, seed: int, device="cpu"):
        if batch_size < 1 or batch_size > n:
            raise ConfigError(f"batch size must be between 1 and the dataset size {n} (got {batch_size})")
        self.n, self.batch_size = int(n), int(batch_size)
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.epoch = 0
        self._perm: torch.Tensor | None = None
        self._pos = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.batch_size

    def next(self) -> torch.Tensor:
        """The next batch of indices (a LongTensor on ``device``)."""
        if self._perm is None or self._pos + self.batch_size > self.n:
            if self._perm is not None:
                self.epoch += 1
            self._perm = torch.randperm(self.n, generator=self.generator, device=self.device)
            self._pos = 0
        idx = self._perm[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    # -- checkpointing ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and ints only (``torch.load(weights_only=True)`` reads it back)."""
        return {
            "generator": self.generator.get_state(),
            "device_type": self.device.type,
            "perm": None if self._perm is None else self._perm.cpu(),
            "pos": self._pos,
            "epoch": self.epoch,
            "n": self.n,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict) -> None:
        if (state.get("n"), state.get("batch_size")) != (self.n, self.batch_size):
            raise DataError(f"the checkpoint's data sampler was for {state.get('n')} images in batches of "
                            f"{state.get('batch_size')}, this run has {self.n} in batches of {self.batch_size}")
        if state.get("device_type") != self.device.type:
            raise DataError(f"the checkpoint's data sampler ran on {state.get('device_type')}, this run on "
                            f"{self.device.type}: random streams differ between device types")
        self.generator.set_state(state["generator"])
        self._perm = None if state["perm"] is None else state["perm"].to(self.device)
        self._pos, self.epoch = int(state["pos"]), int(state["epoch"])
