"""A test-only game that fails at run time, after the CLI's validation has passed: g2, whose
``extra_metrics`` hook raises from step ``fail_at`` on (as a bug in a game's metric would).
Made available to sweeps with ``hydra.searchpath=[file://<repo>/tests/conf] game=failing``."""

from minimax_cli.games.toy import G2


class FailingG2(G2):
    def __init__(self, name, fail_at: int = 10, **kw):
        super().__init__(name, **kw)
        self.fail_at = int(fail_at)

    def extra_metrics(self, x, y, step):
        if step >= self.fail_at:
            raise RuntimeError(f"test game {self.name}: deliberate failure at step {step}")
        return {}
