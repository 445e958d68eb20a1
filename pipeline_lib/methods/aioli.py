"""Aioli (LMO: linear dynamic law, A^t estimated online by LearnParams, exponentiated-gradient solver).

Training is cut into rounds of ``update_steps``. Each round starts with LearnParams: for ``lp_rounds`` random
orders of the m groups, train ``lp_steps`` steps on the smoothed one-hot mixture of each group (weight
``one_hot_factor`` on it, the rest spread evenly; batches realise it exactly) and record the sequential drop
of every group's validation loss. Averaging gives beta = A W^T (W: the one-hot mixtures), so A = beta W^-T.
A is normalised, p moves by exponentiated gradient on A's column sums (optionally on an EMA of A), and the
rest of the round trains on p. LearnParams steps count toward the run's budget: Aioli needs no extra runs.
Ablations: ``aioli_static`` (one round: one A for the whole run) and ``aioli_diagonal`` (A diagonal).
Restricted setting: ``aioli+<X>`` first trains ``prior_steps`` steps under baseline X's own policy (its
learned proportions, or Skill-It's online procedure), then resets p to uniform and runs Aioli for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from pipeline_lib.lmo import eg_step, smoothed_one_hot
from pipeline_lib.methods.base import MixturePolicy, check_mixture
from pipeline_lib.methods.static import Static


@dataclass(frozen=True)
class AioliConfig:
    """Aioli's hyper-parameters (``methods.aioli`` in the config; the paper's names in comments)."""

    lp_rounds: int = 4  # k: random orders of the groups per LearnParams
    lp_steps: int = 4  # s: steps on each smoothed one-hot mixture
    update_steps: int = 250  # U: round length in steps (LearnParams included)
    eta: float = 0.2  # EG step size
    one_hot_factor: float = 0.625  # epsilon_1: weight of the hot group in LearnParams mixtures
    ema: float | None = None  # gamma: A-bar = (1 - gamma) A + gamma A-bar_prev; None = cumulative EG on A
    normalize: bool = True  # shift A to be non-negative, then scale its entries to sum to 1
    diagonal: bool = False  # Aioli-diagonal: keep only A_ii = beta_ii / epsilon_1
    prior_steps: int = 0  # train this many steps on a prior first (a mixture, or X's policy), then uniform
    prior: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        problems = []
        for name in ("lp_rounds", "lp_steps", "update_steps"):
            if getattr(self, name) < 1:
                problems.append(f"methods.aioli.{name} must be >= 1")
        if not 0 < self.one_hot_factor <= 1:
            problems.append("methods.aioli.one_hot_factor must be in (0, 1]")
        if self.ema is not None and not 0 <= self.ema < 1:
            problems.append("methods.aioli.ema must be in [0, 1) or null")
        if self.prior_steps < 0:
            problems.append("methods.aioli.prior_steps must be >= 0")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AioliConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known - {"fit_path"})
        if unknown:
            raise ValueError(f"methods.aioli: unknown parameter(s) {unknown}; known: {sorted(known)}")
        values = {k: v for k, v in params.items() if k in known}
        if values.get("prior") is not None:
            values["prior"] = tuple(values["prior"])
        return cls(**values)

    def lp_steps_per_round(self, m: int) -> int:
        return self.lp_rounds * self.lp_steps * m


def lp_order(m: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """The order LearnParams visits the groups: ``rounds`` random permutations, concatenated."""
    return np.concatenate([rng.permutation(m) for _ in range(rounds)])


def learn_params(
    train: Callable[[np.ndarray, int], None],
    evaluate: Callable[[], np.ndarray],
    m: int,
    cfg: AioliConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Estimate beta (m x m): beta[i, j] = mean drop of group i's loss over ``lp_steps`` steps on mixture q_j.

    ``train(q, steps)`` trains on mixture q; ``evaluate()`` returns the per-group validation losses. Drops are
    sequential: each is measured from the previous measurement, not from a common start."""
    W = smoothed_one_hot(m, cfg.one_hot_factor)
    beta = np.zeros((m, m))
    previous = evaluate()
    for j in lp_order(m, cfg.lp_rounds, rng):
        train(W[j], cfg.lp_steps)
        current = evaluate()
        beta[:, j] += previous - current
        previous = current
    return beta / cfg.lp_rounds


def solve_A(beta: np.ndarray, cfg: AioliConfig) -> np.ndarray:
    """Undo the smoothing: beta = A W^T with W's rows the LearnParams mixtures, so A = beta W^-T."""
    m = beta.shape[0]
    if cfg.diagonal:
        return np.diag(np.diag(beta) / cfg.one_hot_factor)
    if cfg.one_hot_factor == 1.0:
        return beta.copy()
    W = smoothed_one_hot(m, cfg.one_hot_factor)
    return np.linalg.solve(W, beta.T).T  # A W^T = beta  <=>  W A^T = beta^T


def normalize_A(A: np.ndarray) -> np.ndarray:
    """Shift A so its smallest entry is 0 (if negative), then scale its entries to sum to 1."""
    A = A - min(A.min(), 0.0)
    total = A.sum()
    return A / total if total > 0 else np.full_like(A, 1.0 / A.size)


class Aioli(MixturePolicy):
    """The online policy: LearnParams at the start of each round, then EG on A's column sums."""

    variant: ClassVar[dict[str, Any]] = {}

    def __init__(self, groups: tuple[str, ...], params: dict[str, Any]) -> None:
        super().__init__(groups, params)
        self.cfg = AioliConfig.from_params({**params, **self.variant})
        self.prefix = self._prefix_policy()
        if self.cfg.prior_steps and self.prefix is None:
            raise ValueError("methods.aioli.prior_steps > 0 needs methods.aioli.prior (a mixture)")
        if self.cfg.one_hot_factor <= 1.0 / self.m + 1e-9:
            raise ValueError(
                f"methods.aioli.one_hot_factor = {self.cfg.one_hot_factor} is not above 1/m = "
                f"{1 / self.m:.3f} for {self.m} groups: LearnParams mixtures would not single out a group, "
                "so A cannot be estimated"
            )
        self.rounds: list[dict[str, Any]] = []
        self._A_bar: np.ndarray | None = None
        self._next_round: int | None = None
        self._rng: np.random.Generator | None = None
        self.lp_steps_done = 0

    def _prefix_policy(self) -> MixturePolicy | None:
        """The policy of the first ``prior_steps`` steps: a static ``prior`` mixture, if one is given."""
        if self.cfg.prior is None:
            return None
        check_mixture(self.cfg.prior, self.m, "methods.aioli.prior")
        return Static(self.groups, {"proportions": list(self.cfg.prior)})

    def _in_prefix(self, trainer) -> bool:
        return self.prefix is not None and trainer.step < self.cfg.prior_steps

    def start(self, trainer) -> np.ndarray:
        self._rng = np.random.default_rng([trainer.spec.seed, 0xA101])
        self._next_round = self.cfg.prior_steps
        self._round_len = self._round_length(trainer.cfg.steps - self.cfg.prior_steps)
        if self._in_prefix(trainer):
            return self.prefix.start(trainer)
        return np.full(self.m, 1.0 / self.m)

    def after_eval(self, trainer, val_losses: np.ndarray) -> np.ndarray | None:
        return self.prefix.after_eval(trainer, val_losses) if self._in_prefix(trainer) else None

    def backward(self, trainer, batch, groups) -> float:
        if self._in_prefix(trainer):
            return self.prefix.backward(trainer, batch, groups)
        return super().backward(trainer, batch, groups)

    def _round_length(self, total_steps: int) -> int:
        return self.cfg.update_steps

    def before_step(self, trainer) -> np.ndarray | None:
        if self._in_prefix(trainer):
            return self.prefix.before_step(trainer)
        if self._next_round is None or trainer.step != self._next_round:
            return None
        round_start = trainer.step
        self._next_round += self._round_len
        p = trainer.p if trainer.step != self.cfg.prior_steps else np.full(self.m, 1.0 / self.m)
        if trainer.step + self.cfg.lp_steps_per_round(self.m) > trainer.cfg.steps:
            return p  # too few steps left for LearnParams: keep the mixture
        beta = learn_params(
            lambda q, n: [trainer.train_step(q, exact=True) for _ in range(n)],
            lambda: trainer.evaluate("val"),
            self.m,
            self.cfg,
            self._rng,
        )
        self.lp_steps_done += self.cfg.lp_steps_per_round(self.m)
        A = solve_A(beta, self.cfg)
        if self.cfg.normalize:
            A = normalize_A(A)
        if self.cfg.ema is None:
            p_new = eg_step(p, A, self.cfg.eta)
        else:
            self._A_bar = A if self._A_bar is None else (1 - self.cfg.ema) * A + self.cfg.ema * self._A_bar
            p_new = eg_step(np.full(self.m, 1.0 / self.m), self._A_bar, self.cfg.eta)
        self.rounds.append(
            {
                "step": round_start,
                "p_from": trainer.step,
                "A": A.tolist(),
                "beta": beta.tolist(),
                "p": p_new.tolist(),
            }
        )
        return p_new

    def summary(self) -> dict[str, Any]:
        out = {
            "lp_steps": self.lp_steps_done,
            "lp_steps_per_round": self.cfg.lp_steps_per_round(self.m),
            "rounds": self.rounds,
        }
        if self.prefix is not None:
            out["prior"] = {"steps": self.cfg.prior_steps, **self.prefix.summary()}
        return out

    @property
    def extra_runs(self) -> dict[str, float]:
        return self.prefix.extra_runs if self.prefix is not None else super().extra_runs

    def implied_A(self) -> list[np.ndarray]:
        """The LMO view: A^t of each round, as Aioli estimated it."""
        return [np.asarray(r["A"]) for r in self.rounds]


class AioliStatic(Aioli):
    """Ablation: a single round, so one A (estimated at the start) steers the whole run."""

    def _round_length(self, total_steps: int) -> int:
        return total_steps


class AioliDiagonal(Aioli):
    """Ablation: A restricted to its diagonal (each group only helps itself)."""

    variant: ClassVar[dict[str, Any]] = {"diagonal": True}


class AioliPlus(Aioli):
    """Aioli + X (the restricted setting): baseline X's own policy for ``prior_steps``, then Aioli.

    ``params``: Aioli's, plus ``prior_method`` (X), ``prior_params`` (X's) and ``fit_path`` (X's fit file,
    which the workflow passes on to X). The run's extra runs are X's: what X spent learning its mixture."""

    def __init__(self, groups: tuple[str, ...], params: dict[str, Any]) -> None:
        params = dict(params)
        self.prior_method = params.pop("prior_method", None)
        self._prior_params = dict(params.pop("prior_params", None) or {})
        if "fit_path" in params:
            self._prior_params["fit_path"] = params["fit_path"]
        if not self.prior_method:
            raise ValueError("aioli+<X> needs method_params.prior_method (the baseline X)")
        super().__init__(groups, params)

    def _prefix_policy(self) -> MixturePolicy:
        from pipeline_lib.methods import METHODS

        if self.prior_method not in METHODS or self.prior_method.startswith("aioli"):
            raise ValueError(f"aioli+{self.prior_method}: '{self.prior_method}' is not a baseline method")
        return METHODS[self.prior_method](self.groups, self._prior_params)
