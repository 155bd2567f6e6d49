"""A test-only game that fails at run time, after the CLI's validation has passed: g2, whose
``extra_metrics`` hook raises from step ``fail_at`` on (as a bug in a game's metric would).
Made available to sweeps with ``hydra.searchpath=[file://<repo>/tests/conf] game=failing``;
``game=failing_gan``: a GAN one of whose data-parallel ranks fails."""

import os
import signal
import time

from minimax_cli.games.gan import GAN
from minimax_cli.games.toy import G2


class FailingG2(G2):
    def __init__(self, name, fail_at: int = 10, **kw):
        super().__init__(name, **kw)
        self.fail_at = int(fail_at)

    def extra_metrics(self, x, y, step):
        if step >= self.fail_at:
            raise RuntimeError(f"test game {self.name}: deliberate failure at step {step}")
        return {}


class FailingGAN(GAN):
    """The MoG GAN, except that rank ``fail_rank`` of a data-parallel run fails at step ``fail_at``:
    ``mode: raise`` raises (a bug on one rank), ``mode: kill`` SIGKILLs its own process (as the
    out-of-memory killer would), leaving no error report behind, ``mode: hang`` never returns."""

    def __init__(self, name, fail_at: int = 3, fail_rank: int = 1, mode: str = "raise", **kw):
        super().__init__(name, **kw)
        self.fail_at, self.fail_rank, self.mode = int(fail_at), int(fail_rank), mode

    def before_step(self, x, y, step):
        import torch.distributed as dist

        if step >= self.fail_at and dist.is_initialized() and dist.get_rank() == self.fail_rank:
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "hang":
                time.sleep(3600)
            raise RuntimeError(f"test game {self.name}: deliberate failure on rank {self.fail_rank} at step {step}")
