"""Run under torchrun by tests/test_distributed.py: each rank runs train.execute on several configs
(hardware=ddp), so one torchrun start (the costly part on CPU) serves every algorithm compared.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/ddp_worker.py OUT JOBS_JSON

JOBS_JSON: {name: [override, ...]}; the run of job ``name`` goes to OUT/name (rank 0 writes it).
"""

import json
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)


def main(out: str, jobs: str) -> None:
    from minimax_cli.config import compose
    from minimax_cli.run_settings import settings_of
    from minimax_cli.train import execute

    for name, overrides in json.loads(jobs).items():
        execute(settings_of(compose(overrides)), Path(out) / name)


if __name__ == "__main__":
    main(*sys.argv[1:])
