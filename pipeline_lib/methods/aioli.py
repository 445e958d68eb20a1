"""Aioli (LMO: linear dynamic law, A^t estimated online by LearnParams, exponentiated-gradient solver).

Training is cut into rounds of ``update_steps``. Each round starts with LearnParams: for ``lp_rounds`` random
orders of the m groups, train ``lp_steps`` steps on the smoothed one-hot mixture of each group (weight
``one_hot_factor`` on it, the rest spread evenly; batches realise it exactly) and record the sequential drop
of every group's validation loss. Averaging gives beta = A W^T (W: the one-hot mixtures), so A = beta W^-T.
A is normalised, p moves by exponentiated gradient on A's column sums (optionally on an EMA of A), and the
rest of the round trains on p. LearnParams steps count toward the run's budget: Aioli needs no extra runs.
Ablations (config overrides in the registry): ``aioli_static`` (one round: one A for the whole run) and
``aioli_diagonal`` (A diagonal).
Restricted setting: ``aioli+<X>`` first trains ``prior_steps`` steps under baseline X's own policy (its
learned proportions, or Skill-It's online procedure), then resets p to uniform and runs Aioli for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline_lib.config.methods import AioliConfig, AioliPlusConfig, StaticConfig
from pipeline_lib.lmo import eg_step, smoothed_one_hot
from pipeline_lib.lmo.dynamic import aioli_A, ema_A, normalize_A
from pipeline_lib.lmo.simplex import check_mixture
from pipeline_lib.methods.base import NO_INPUTS, MixturePolicy, RunInputs, RunPort
from pipeline_lib.methods.static import Static
from pipeline_lib.records import Spent


def lp_order(m: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """The order LearnParams visits the groups: ``rounds`` random permutations, concatenated."""
    return np.concatenate([rng.permutation(m) for _ in range(rounds)])


def learn_params(
    train: Callable[[np.ndarray, int], np.ndarray],
    evaluate: Callable[[], np.ndarray],
    m: int,
    cfg: AioliConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate beta (m x m): beta[i, j] = mean drop of group i's loss over ``lp_steps`` steps on mixture q_j,
    and W (m x m): row j the mixture the batches realised for q_j (q_j rounded to whole sequences).

    ``train(q, steps)`` trains on mixture q and returns the realised mixture; ``evaluate()`` returns the
    per-group validation losses. Drops are sequential: each is measured from the previous measurement."""
    asked = smoothed_one_hot(m, cfg.one_hot_factor)
    beta, realised = np.zeros((m, m)), np.zeros((m, m))
    previous = evaluate()
    for j in lp_order(m, cfg.lp_rounds, rng):
        realised[j] += train(asked[j], cfg.lp_steps)
        current = evaluate()
        beta[:, j] += previous - current
        previous = current
    return beta / cfg.lp_rounds, realised / cfg.lp_rounds


class Aioli(MixturePolicy):
    """The online policy: LearnParams at the start of each round, then EG on A's column sums. The ablations
    are config overrides: ``update_steps: null`` (one round) and ``diagonal: true``."""

    cfg: AioliConfig
    state_fields = ("rounds", "_A_bar", "_next_round", "_round_len", "_rng", "lp_steps_done")

    def __init__(self, groups: tuple[str, ...], cfg: AioliConfig, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        self.prefix = self._prefix_policy()
        if cfg.prior_steps and self.prefix is None:
            raise ValueError("methods.aioli.prior_steps > 0 needs methods.aioli.prior (a mixture)")
        problems = cfg.group_problems(self.m)
        if problems:
            raise ValueError("methods.aioli: " + "; ".join(problems))
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
        return Static(self.groups, StaticConfig(self.cfg.prior))

    def _in_prefix(self, run: RunPort) -> bool:
        return self.prefix is not None and run.step < self.cfg.prior_steps

    def start(self, run: RunPort) -> np.ndarray:
        self._rng = np.random.default_rng([run.seed, 0xA101])
        self._next_round = self.cfg.prior_steps
        if self.cfg.lp_after_warmup:  # the first LearnParams once the learning rate has stopped rising
            self._next_round = max(self._next_round, run.warmup_steps)
        self._first_round = self._next_round
        self._round_len = self.cfg.update_steps or run.total_steps - self.cfg.prior_steps
        if self._in_prefix(run):
            return self.prefix.start(run)
        return np.full(self.m, 1.0 / self.m)

    def after_eval(self, run: RunPort, val_losses: np.ndarray) -> np.ndarray | None:
        return self.prefix.after_eval(run, val_losses) if self._in_prefix(run) else None

    def backward(self, run: RunPort, batch, groups) -> float:
        if self._in_prefix(run):
            return self.prefix.backward(run, batch, groups)
        return super().backward(run, batch, groups)

    def before_step(self, run: RunPort) -> np.ndarray | None:
        if self._in_prefix(run):
            return self.prefix.before_step(run)
        if self._next_round is None or run.step != self._next_round:
            return None
        round_start = run.step
        self._next_round += self._round_len
        p = run.p if run.step != self._first_round else np.full(self.m, 1.0 / self.m)
        if run.step + self.cfg.lp_steps_per_round(self.m) > run.total_steps:
            return p  # too few steps left for LearnParams: keep the mixture
        beta, W = learn_params(
            lambda q, n: run.train(q, n, exact=True),
            lambda: run.evaluate("val"),
            self.m,
            self.cfg,
            self._rng,
        )
        self.lp_steps_done += self.cfg.lp_steps_per_round(self.m)
        A = aioli_A(beta, self.cfg.one_hot_factor, self.cfg.diagonal, W)  # the realised mixtures
        if self.cfg.normalize:
            A = normalize_A(A)
        if self.cfg.ema is None:
            p_new = eg_step(p, A, self.cfg.eta)
        else:
            self._A_bar = ema_A(A, self._A_bar, self.cfg.ema)
            p_new = eg_step(np.full(self.m, 1.0 / self.m), self._A_bar, self.cfg.eta)
        self.rounds.append(
            {
                "step": round_start,
                "p_from": run.step,
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
    def extra_runs(self) -> Spent:
        return self.prefix.extra_runs if self.prefix is not None else super().extra_runs

    def state_dict(self) -> dict[str, Any]:
        prefix = self.prefix.state_dict() if self.prefix is not None else None
        return {**super().state_dict(), "prefix": prefix}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.prefix is not None:
            self.prefix.load_state_dict(state["prefix"])


class AioliPlus(Aioli):
    """Aioli + X (the restricted setting): baseline X's own policy for ``prior_steps``, then Aioli.

    X's policy gets the job's inputs (X's fit file). The run's extra runs are X's: what X spent learning."""

    def __init__(self, groups: tuple[str, ...], cfg: AioliPlusConfig, inputs: RunInputs = NO_INPUTS) -> None:
        self.plus = cfg
        super().__init__(groups, cfg.aioli, inputs)

    def _prefix_policy(self) -> MixturePolicy:
        from pipeline_lib.methods import make_policy

        return make_policy(self.plus.prior_method, self.groups, self.plus.prior, self.inputs)
