"""The quadratic zero-sum game the closed-form algorithm tests share, in the papers' notation:

    f = ½xᵀAx + xᵀBy + ½yᵀCy:  ∇_x f = Ax + By, ∇_y f = Bᵀx + Cy, H_xx = A, H_xy = B, H_yx = Bᵀ, H_yy = C

with A ≻ 0 and C ≺ 0 (a strongly convex–concave game: (0,0) is a local Nash point, H_yy invertible).
"""

import numpy as np
import torch

from minimax_cli.games.toy import Quadratic
from minimax_cli.oracle import Oracle
from tests.conftest import make_game

A = np.array([[2.0, 0.5], [0.5, 1.0]])
B = np.array([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0]])
C = np.array([[-1.0, 0.2, 0.0], [0.2, -2.0, 0.1], [0.0, 0.1, -0.5]])
X0 = np.array([0.7, -1.2])
Y0 = np.array([0.4, 0.9, -0.3])
n, m = 2, 3


def grad_x(x, y):
    return A @ x + B @ y


def grad_y(x, y):
    return B.T @ x + C @ y


def quadratic_game():
    return make_game(Quadratic, A=A.tolist(), B=B.tolist(), C=C.tolist())


def run_steps(algo, game, steps, x0=X0, y0=Y0):
    """(x, y) after ``steps`` steps of ``algo`` from (x0, y0), as numpy arrays."""
    oracle = Oracle(game)
    state = algo.init(torch.tensor(x0), torch.tensor(y0), oracle)
    for _ in range(steps):
        state, _ = algo.step(state, oracle)
    return state["x"].numpy(), state["y"].numpy()
