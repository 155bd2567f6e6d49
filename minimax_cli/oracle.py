"""Derivatives of a game, all through torch.func, with a count of what each step spends.

Notation: L_x, L_y are the players' own losses; the game vector field is
ξ(x, y) = (∇_x L_x, ∇_y L_y) (for zero-sum games ξ = (∇_x f, -∇_y f)); its Jacobian is

    J = [[∇²_xx L_x, ∇²_xy L_x],
         [∇²_yx L_y, ∇²_yy L_y]].

Second-order products of a player's gradient are reverse-over-reverse: ∇²_ab L · v = ∇_a(∇_b L · v),
a second backward pass through the graph of the gradient (~2 gradients of cost). Mathematically
the same as a JVP of the gradient (forward-over-reverse), but torch's forward mode evaluates some
derivative formulas through Python reference decompositions: a product with a scalar costs ~100×
its kernel there (measured: 0.4 ms instead of 4 µs on 10,000 elements), which made FR's products
on vectorized analytic games 4× a gradient and a GAN's 20% slower than two backward passes. Only
the field's JVP (J · (u, v), not a gradient's derivative) and the dense ``field_jacobian`` stay
forward-mode. No Hessian is materialized except by ``hess_yy`` / ``field_jacobian``, meant for
small games.

Precision (``hardware.precision``, set here and nowhere else; float32 games only):

    fp32   every evaluation in IEEE float32 (TF32 off for matmuls and convolutions)
    tf32   first-order evaluations (losses, gradients, the field) may use TF32 tensor cores
    bf16   first-order evaluations run under bf16 autocast (matmuls/convolutions in bfloat16,
           gradients returned in the players' float32)

Second-order products (HVPs, field JVP/VJP, dense Hessians) always run in float32 with TF32 off:
they are differences of gradients in the limit, where 8 mantissa bits cancel. For the same reason
an algorithm that takes finite differences of gradients (``gradient_differences``: FR/HessianFR
with ``mixed: fd``, the diagonal solver or adaptive CG damping) keeps its first-order evaluations in
float32 too (``effective_precision``).

Derivatives in y alone go through ``Game.follower_loss(x, batch)``, the follower's loss as a function
of y at a fixed x (a GAN computes its generator's samples there once). Where an algorithm needs many
products with one Hessian (CG), ``follower_curvature`` keeps the graph of one gradient evaluation
and answers each product with one reverse pass through it; products that come with the gradient of
the same point (``with_grad``, ``field_with_vjp``) return the primal the product computes anyway.
Every variant evaluates the same derivatives; only repeated work is skipped.

First-order derivatives (gradients, the field) asked for outside any torch.func transform (the
runner's step of one trajectory, not vmapped or differentiated) are taken with one plain
``torch.autograd.grad`` instead of ``torch.func.grad``: the same backward formulas without
functorch's wrappers and the graph of the backward pass it always records (about 10% of a GAN's
gradient on CPU). Under vmap / jvp / jacrev the torch.func path is used, so every algorithm stays
a pure, transformable function.

Every request is declared once, by ``@request`` on its method: its name, its counted cost, whether a
data-parallel run averages it over ranks (distributed.py reads ``REQUESTS``; what a returned
closure or ``FollowerAt`` computes later is averaged through ``_share``), and, for the requests a
runner may already have answered, how to answer from what is known at the step's point.

Known points. An algorithm asks "at the step's own point (x_t, y_t)" explicitly, with
``at=oracle.here`` (a keyword of every counted request). An ordinary Oracle knows nothing there (``here`` is None) and computes; a
:class:`KnownPointOracle` carries derivatives computed before the step (a runner of many analytic
starts takes the field, and FR's follower blocks, for all starts at once) and answers such requests
from them, counted as the request is counted. The token, not the tensors' identity, names the
point, so a copy of x changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass

import torch
from torch.func import grad, grad_and_value, jacrev, vjp
from torch.func import jacfwd as _func_jacfwd
from torch.func import jvp as _func_jvp

from minimax_cli.errors import ConfigError

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "tf32", "bf16")


def effective_precision(algo, precision: str) -> str:
    """``precision`` unless the algorithm differences gradients (then bf16 falls back to fp32,
    with a one-line warning): the precision its Oracle evaluates first-order quantities in."""
    if precision not in PRECISIONS:
        raise ConfigError(f"hardware.precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    if precision == "bf16" and getattr(algo, "gradient_differences", False):
        log.warning("hardware.precision=bf16: %s takes finite differences of gradients, which bf16 rounding "
                    "would swamp; its gradients stay in fp32", getattr(algo, "name", type(algo).__name__))
        return "fp32"
    return precision


def _transformed() -> bool:
    """Whether a torch.func transform (vmap, grad, jvp, vjp, jacrev ...) is active here."""
    return torch._C._functorch.peek_interpreter_stack() is not None


def _plain_grad(fn, argnums: tuple[int, ...], *args, with_value: bool = False):
    """∇ of the scalar fn(*args) in the arguments ``argnums`` (and the value): torch.autograd
    outside transforms for inputs that are not part of an outer graph, torch.func otherwise."""
    if _transformed() or any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        out = grad_and_value(fn, argnums)(*args)
        return out if with_value else out[0]
    args = list(args)
    with torch.enable_grad():
        leaves = [args[i].detach().requires_grad_() for i in argnums]
        for i, leaf in zip(argnums, leaves):
            args[i] = leaf
        value = fn(*args)
        grads = torch.autograd.grad(value, leaves, allow_unused=True) if value.requires_grad else [None] * len(leaves)
    grads = tuple(torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads))
    return (grads, value.detach()) if with_value else grads


def _kept_gradient(loss, y):
    """(∇loss(y), v ↦ (∇²loss(y) v,)): the gradient's graph kept by torch.autograd, each product one
    reverse pass through it (what torch.func.vjp of the gradient gives, without its wrappers)."""
    with torch.enable_grad():
        leaf = y.detach().requires_grad_()
        value = loss(leaf)
        g = torch.autograd.grad(value, leaf, create_graph=True)[0] if value.requires_grad else torch.zeros_like(y)

    def pullback(v):
        if not g.requires_grad:  # a loss linear in y: no curvature
            return (torch.zeros_like(y),)
        with torch.enable_grad():
            return (torch.autograd.grad(g, leaf, v, retain_graph=True)[0],)

    return g.detach(), pullback


_FORWARD_AD_READY: list[bool] = []


def _load_forward_ad() -> None:
    """torch's first forward-mode derivative imports its JVP decompositions, which call the
    deprecated torch.jit.script: a FutureWarning about torch's own code that users cannot act on.
    The import is done here, once, with that one warning filtered."""
    if not _FORWARD_AD_READY:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
            import torch._decomp.decompositions_for_jvp  # noqa: F401
        _FORWARD_AD_READY.append(True)


def jvp(fn, primals, tangents):
    """torch.func.jvp (forward-mode set-up above)."""
    _load_forward_ad()
    return _func_jvp(fn, primals, tangents)


def jacfwd(fn):
    """torch.func.jacfwd (forward-mode set-up above)."""
    _load_forward_ad()
    return _func_jacfwd(fn)


def _second_derivative_product(loss, args: tuple, outer: int, inner: int, vector, with_grad: bool = False):
    """∇_a (∇_b loss · vector) with a = args[outer], b = args[inner]: the second derivative
    ∇²_ab loss times ``vector`` (a vector like b) by two reverse passes; with_grad: (∇_a loss,
    product), ∇_a loss from the first pass. Plain torch.autograd outside transforms, torch.func
    under them (vmap over starts, jacrev of a step)."""
    plain = not _transformed() and not any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
    if plain:
        with torch.enable_grad():
            leaves = [a.detach().requires_grad_() if i in (outer, inner) else a for i, a in enumerate(args)]
            value = loss(*leaves)
            wrt = [leaves[inner]] + ([leaves[outer]] if with_grad and outer != inner else [])
            grads = torch.autograd.grad(value, wrt, create_graph=True, allow_unused=True) if value.requires_grad \
                else [None] * len(wrt)
            grads = [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, grads)]
            dot = (grads[0] * vector).sum()
            product = torch.autograd.grad(dot, leaves[outer], allow_unused=True)[0] if dot.requires_grad else None
        product = torch.zeros_like(args[outer]) if product is None else product
        return (grads[-1].detach(), product) if with_grad else product

    def dot(*a):
        if with_grad and outer != inner:
            g_inner, g_outer = grad(loss, argnums=(inner, outer))(*a)
        else:
            g_inner = g_outer = grad(loss, argnums=inner)(*a)
        return (g_inner * vector).sum(), g_outer

    product, g_outer = grad(dot, argnums=outer, has_aux=True)(*args)
    return (g_outer, product) if with_grad else product


@contextlib.contextmanager
def _tf32(enabled: bool):
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def apply_precision(precision: str) -> None:
    """The process-wide TF32 switch for a run (fp32 and bf16: off; tf32: on). The Oracle turns it
    off around second-order products."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"


@dataclass(frozen=True)
class Request:
    """One Oracle request: its name, its cost (grads, hvps: numbers, or functions of the call's
    arguments), whether a data-parallel run averages it over ranks (``reduced``), and ``known``:
    (known derivatives, call's arguments) -> the answer from them, or None where they do not hold it."""

    name: str
    grads: object = 0.0
    hvps: object = 0.0
    reduced: bool = True
    known: object = None


#: every Oracle request, by name (filled by ``@request``)
REQUESTS: dict[str, Request] = {}
#: Oracle methods that are bookkeeping, not requests: construction, a new batch, the precision
#: contexts requests run in, the local follower loss, the cores requests share, ``_share``
BOOKKEEPING = ("__init__", "next_batch", "_count", "_first_order", "_second_order", "_follower", "_second_derivative",
               "_vjp_closure", "_share", "_field_and_losses")


def _amount(cost, args, kwargs) -> float:
    return cost(*args, **kwargs) if callable(cost) else cost


def request(grads=0.0, hvps=0.0, reduced: bool = True, known=None):
    """Declare an Oracle method a request (see ``Request``). A request without cost or known
    answer is the method itself (no wrapper: losses and raw gradients are called inside transforms)."""

    def declare(fn):
        spec = Request(fn.__name__, grads, hvps, reduced, known)
        REQUESTS[spec.name] = spec
        if not grads and not hvps and known is None:
            return fn

        def method(self, *args, at=None, **kwargs):
            if at is not None and known is not None and at is self.here:
                answer = known(self.known, *args, **kwargs)
                if answer is not None:
                    self._count(spec, args, kwargs)
                    return answer
            self._count(spec, args, kwargs)
            return fn(self, *args, **kwargs)

        method.__name__, method.__qualname__, method.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        method.request = spec
        return method

    return declare


def _half_with_grad(*args, with_grad: bool = False) -> float:
    """A product that also returns its first backward pass's gradient: that gradient counts ½."""
    return 0.5 if with_grad or (len(args) > 3 and args[3]) else 0.0


def _known_field(part=None):
    def answer(known, x, y):
        field = known.get("field")
        return field if field is None or part is None else field[part]
    return answer


def _known_hvp_yx(known, x, y, u, with_grad: bool = False):
    G_yx = known.get("G_yx")
    if G_yx is None:
        return None
    # a one-column block (a scalar leader) times u is a product: the same numbers, half the time
    # of a matrix-vector product under vmap over starts
    product = G_yx[:, 0] * u if G_yx.shape[-1] == 1 else G_yx @ u
    return (known["field"][1], product) if with_grad else product


def _known_hvp_xy_follower(known, x, y, v):
    G_yx = known.get("G_yx")
    return None if G_yx is None else G_yx.T @ v   # ∇²_xy L_y = (∇²_yx L_y)ᵀ


def _known_hvp_yy(known, x, y, v):
    G = known.get("G")
    return None if G is None else G @ v


@dataclass
class CostMeter:
    """Evaluations spent, in comparable units.

    ``grads`` counts game-vector-field evaluations (both players' gradients = 1, one player's
    gradient = 0.5); ``hvps`` counts Hessian-/Jacobian-vector products (each ~ one field
    evaluation of work). Python-side counters: free, and unaffected by vmap over starts.
    """

    grads: float = 0.0
    hvps: float = 0.0

    def reset(self):
        self.grads = self.hvps = 0.0


class Oracle:
    """The derivatives an algorithm may ask for, at any (x, y), on one fixed batch."""

    #: the token of the step's own point where this oracle knows derivatives (None: it knows none)
    here = None
    known: dict = {}

    def __init__(self, game, batch=None, cost: CostMeter | None = None, sampler=None, precision: str = "fp32"):
        self.game, self.batch, self.sampler = game, batch, sampler
        self.cost = cost if cost is not None else CostMeter()
        if precision not in PRECISIONS:
            raise ConfigError(f"hardware.precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
        self.precision = precision

    def next_batch(self) -> "Oracle":
        """The same oracle on a fresh batch (GDA-k's inner steps); itself for deterministic games."""
        if self.sampler is None:
            return self
        return type(self)(self.game, self.sampler(), self.cost, self.sampler, self.precision)

    def _count(self, spec: Request, args, kwargs) -> None:
        if spec.grads:
            self.cost.grads += _amount(spec.grads, args, kwargs)
        if spec.hvps:
            self.cost.hvps += _amount(spec.hvps, args, kwargs)

    # -- numerics -------------------------------------------------------------------------------
    def _first_order(self):
        """Where losses and gradients are evaluated: the configured precision."""
        if self.precision == "bf16":
            return torch.autocast(self.game.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _second_order(self):
        """Where products of second derivatives are evaluated: float32, no TF32."""
        return _tf32(False) if self.precision == "tf32" else contextlib.nullcontext()

    # -- losses ---------------------------------------------------------------------------------
    @request()
    def losses(self, x, y):
        with self._first_order():
            return self.game.losses(x, y, self.batch)

    # (loss_x / loss_y are the raw functions every derivative below is taken of)
    @request()
    def loss_x(self, x, y):
        return self.game.loss_x(x, y, self.batch)

    @request()
    def loss_y(self, x, y):
        return self.game.loss_y(x, y, self.batch)

    @request()
    def _gx(self, x, y):
        return _plain_grad(self.loss_x, (0,), x, y)[0]

    def _follower(self, x):
        """y ↦ L_y(x, y) at this x (``Game.follower_loss``)."""
        return self.game.follower_loss(x, self.batch)

    @request()
    def _gy(self, x, y):
        return _plain_grad(self._follower(x), (0,), y)[0]

    # -- first order ------------------------------------------------------------------------------
    @request(grads=1.0, known=_known_field())
    def field(self, x, y):
        """ξ = (∇_x L_x, ∇_y L_y)."""
        with self._first_order():
            return self._field(x, y)

    @request()
    def _field(self, x, y):
        return self._field_and_losses(x, y)[0]

    @request(grads=1.0)
    def field_and_losses(self, x, y):
        """(ξ, (L_x, L_y)): the field and the losses, from the field's forward pass where the game
        is (penalized) zero-sum (counted as ``field``; the runner's diagnostics)."""
        with self._first_order():
            return self._field_and_losses(x, y, losses=True)

    def _field_and_losses(self, x, y, losses: bool = False):
        if self.game.zero_sum:  # one backward pass gives both
            (gx, gy), lx = _plain_grad(self.loss_x, (0, 1), x, y, with_value=True)
            return (gx, -gy), (lx, -lx)
        if self.game.penalized_zero_sum:  # L_y = -L_x + penalty: one backward pass of L_x
            (gx, gy), lx = _plain_grad(self.loss_x, (0, 1), x, y, with_value=True)
            (gp,), penalty = _plain_grad(self.game.penalty, (1,), x, y, self.batch, with_value=True)
            return (gx, gp - gy), (lx, penalty - lx)
        field = self._gx(x, y), self._gy(x, y)
        return field, (self.game.losses(x, y, self.batch) if losses else None)

    @request()
    def _value_field(self, x, y):
        """ξ_U: the field of ``Game.value_losses``, the players' losses without the follower's
        regularizer (equal to ξ for games without one)."""
        if self.game.zero_sum:
            return self._field(x, y)
        if self.game.penalized_zero_sum:  # value losses (L_x, −L_x): one backward pass
            gx, gy = _plain_grad(self.loss_x, (0, 1), x, y)
            return gx, -gy
        value = self.game.value_losses
        return (grad(lambda xx, yy: value(xx, yy, self.batch)[0], argnums=0)(x, y),
                grad(lambda xx, yy: value(xx, yy, self.batch)[1], argnums=1)(x, y))

    @request(grads=0.5, known=_known_field(0))
    def grad_x(self, x, y):
        with self._first_order():
            return self._gx(x, y)

    @request(grads=0.5, known=_known_field(1))
    def grad_y(self, x, y):
        with self._first_order():
            return self._gy(x, y)

    # -- second order (products) ----------------------------------------------------------------
    @request(hvps=1.0, known=_known_hvp_yy)
    def hvp_yy(self, x, y, v):
        """∇²_yy L_y · v."""
        with self._second_order():
            return _second_derivative_product(self._follower(x), (y,), 0, 0, v)

    @request()
    def follower_at(self, x) -> "FollowerAt":
        """The follower's derivatives in y at this leader point, sharing what depends on x only."""
        return FollowerAt(self, x)

    @request()
    def follower_curvature(self, x, y, count_grad: bool = True):
        """``FollowerAt.curvature``: (∇_y L_y(x, y), v ↦ ∇²_yy L_y(x, y) v) for many products at one point."""
        return self.follower_at(x).curvature(y, count_grad)

    @request(hvps=1.0, grads=_half_with_grad, known=_known_hvp_yx)
    def hvp_yx(self, x, y, u, with_grad: bool = False):
        """∇²_yx L_y · u = d/dε ∇_y L_y(x + εu, y) = ∇_y(∇_x L_y · u); with_grad: (∇_y L_y(x, y),
        product), the gradient from the product's first backward pass (counted ½)."""
        return self._second_derivative(self.loss_y, (x, y), 1, 0, u, with_grad)

    @request(hvps=1.0, grads=_half_with_grad)
    def hvp_xy(self, x, y, v, with_grad: bool = False):
        """∇²_xy L_x · v = d/dε ∇_x L_x(x, y + εv) = ∇_x(∇_y L_x · v); with_grad: (∇_x L_x(x, y),
        product) (see hvp_yx)."""
        return self._second_derivative(self.loss_x, (x, y), 0, 1, v, with_grad)

    @request(grads=0.5)
    def grad_y_of_leader(self, x, y):
        """∇_y L_x (general-sum FR's total derivative needs the leader's loss in y)."""
        with self._first_order():
            return _plain_grad(self.loss_x, (1,), x, y)[0]

    @request(hvps=1.0, known=_known_hvp_xy_follower)
    def hvp_xy_follower(self, x, y, v):
        """∇²_xy L_y · v = d/dε ∇_x L_y(x, y + εv) = ∇_x(∇_y L_y · v)."""
        with self._second_order():
            return _second_derivative_product(self.loss_y, (x, y), 0, 1, v)

    @request(hvps=1.0)
    def hvp_xx(self, x, y, u):
        """∇²_xx L_x · u."""
        with self._second_order():
            return _second_derivative_product(self.loss_x, (x, y), 0, 0, u)

    @request(hvps=1.0)
    def field_jvp(self, x, y, u, v):
        """J · (u, v), returned as its (x, y) blocks."""
        with self._second_order():
            return jvp(self._field, (x, y), (u, v))[1]

    @request(hvps=1.0)
    def field_vjp(self, x, y, a, b):
        """Jᵀ · (a, b), returned as its (x, y) blocks."""
        with self._second_order():
            _, pullback = vjp(self._field, x, y)
            return pullback((a, b))

    @request(grads=1.0)
    def field_with_vjp(self, x, y):
        """(ξ(x, y), (a, b) ↦ Jᵀ(a, b)): the field (counted as ``field``) from the forward pass of
        its vector–Jacobian product, whose pullback is then applied per call (one HVP each)."""
        return self._vjp_closure(self._field, x, y)

    @request(grads=1.0)
    def value_field_with_vjp(self, x, y):
        """``field_with_vjp`` of the unpenalized field ξ_U (``Game.value_losses``; Liang & Stokes 2019's
        CO term)."""
        return self._vjp_closure(self._value_field, x, y)

    # -- dense (small games and tests only) -----------------------------------------------------
    @request(hvps=lambda x, y: float(y.shape[-1]), known=lambda known, x, y: known.get("G"))
    def hess_yy(self, x, y):
        """∇²_yy L_y as a matrix (dim_y Hessian-vector products, reverse-over-reverse: rows of a
        symmetric matrix)."""
        with self._second_order():
            return jacrev(grad(self._follower(x)))(y)

    @request(hvps=lambda x, y: float(x.shape[-1] + y.shape[-1]))
    def field_jacobian(self, x, y):
        """The full Jacobian J of ξ at (x, y), as one (n+m)×(n+m) matrix (n+m products)."""
        n = x.shape[-1]

        def flat_field(z):
            gx, gy = self._field(z[:n], z[n:])
            return torch.cat([gx, gy])

        with self._second_order():
            return jacfwd(flat_field)(torch.cat([x, y]))

    # -- results handed out for later ----------------------------------------------------------------
    def _share(self, out):
        """What a closure or ``FollowerAt`` returned by a request computes after it (a pullback, a
        product through a kept graph): as it is in one process; averaged over ranks when the oracle
        is distributed, exactly like a request's own result."""
        return out

    def _second_derivative(self, loss, args, outer: int, inner: int, vector, with_grad: bool):
        """A mixed second derivative of ``loss`` times ``vector``; with_grad: (the gradient in the
        product's own argument, product), the gradient from the product's first backward pass."""
        with self._second_order():
            return _second_derivative_product(loss, args, outer, inner, vector, with_grad)

    def _vjp_closure(self, field_fn, x, y):
        """(field_fn(x, y), (a, b) ↦ Jᵀ(a, b)) from one forward pass (see ``field_with_vjp``)."""
        with self._second_order():  # the kept graph serves products: evaluated like them
            xi, pullback = vjp(field_fn, x, y)

        def transpose_product(a, b):
            self.cost.hvps += 1.0
            with self._second_order():
                return self._share(pullback((a, b)))

        return xi, transpose_product


class FollowerAt:
    """The follower's loss at a fixed leader point x (``Game.follower_loss``, built once: a GAN's
    generator samples G(x, z) are computed here), for several derivatives in y."""

    def __init__(self, oracle: Oracle, x):
        # built outside any autocast: the generator's samples stay float32 for the products below
        self.oracle, self.cost = oracle, oracle.cost
        self.loss = oracle._follower(x)

    def grad(self, y):
        """∇_y L_y(x, y) (counted ½)."""
        self.cost.grads += 0.5
        with self.oracle._first_order():
            return self.oracle._share(_plain_grad(self.loss, (0,), y)[0])

    def curvature(self, y, count_grad: bool = True):
        """(∇_y L_y(x, y), v ↦ ∇²_yy L_y(x, y) v) for many products at one point.

        One gradient evaluation keeps its graph (torch.func.vjp of ∇_y L_y); each product is then
        one reverse pass through it: the vector–Jacobian product of a gradient is the Hessian
        (symmetric) times the vector, and no forward pass is repeated. Counted as one follower
        gradient (½; ``count_grad=False`` where the caller has that gradient already and rebuilds
        it only to keep the graph, as ``field_vjp`` recomputes its primal) and one HVP per product.
        """
        if count_grad:
            self.cost.grads += 0.5
        oracle = self.oracle
        with oracle._second_order():
            if _transformed() or y.requires_grad:
                g, pullback = vjp(grad(self.loss), y)
            else:  # the same graph kept by plain autograd (outside transforms, as _plain_grad)
                g, pullback = _kept_gradient(self.loss, y)

        def hvp(v):
            self.cost.hvps += 1.0
            with oracle._second_order():
                return oracle._share(pullback(v)[0])

        return oracle._share(g), hvp


class KnownPointOracle(Oracle):
    """The Oracle of one step whose derivatives at its own point (x_t, y_t) are already known:
    ``known`` holds the field ("field": (∇_x L_x, ∇_y L_y)) and maybe the follower's blocks ("G":
    ∇²_yy L_y, "G_yx": ∇²_yx L_y). Requests made ``at=oracle.here`` are answered from them (see
    ``request``); every other request is computed as by the ordinary Oracle."""

    def __init__(self, game, known: dict, cost: CostMeter | None = None, precision: str = "fp32"):
        super().__init__(game, None, cost, None, precision)
        self.here, self.known = object(), known
