"""Regressors: one model per task of a swarm's metrics Y (K, n) on its mixtures X (K, m).

Each is fitted with :meth:`Regressor.fit`, predicts ``(N, n)`` with :meth:`Regressor.predict`, and
round-trips through its JSON file (:meth:`Regressor.to_dict`, :func:`regressor_from_dict`). ``REGRESSORS``
maps a name to its class, one entry per type; the laws' forms and settings follow olmix (fit/utils.py) and,
for LightGBM, RegMix (:mod:`.settings` says which).
"""

from __future__ import annotations

import dataclasses
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from pipeline_lib.config.units import (
    PREDICTS_UNSEEN,
    AutoscaleSettings,
    BimixSettings,
    GPSettings,
    LightGBMSettings,
)
from pipeline_lib.lmo.laws import check_losses, check_mixtures
from pipeline_lib.lmo.tasklaw import FitSettings, TaskLogLinearLaw

SEARCH_ATOL = 1e-9  # how close a mixture must be to an observed one for the search regressor to know it


@dataclass(frozen=True)
class FitContext:
    """What a regressor may need beyond its settings: the fit's seed and the target run's tokens R."""

    seed: int = 0
    target_tokens: int | None = None


class Regressor(ABC):
    """A per-task model of a swarm's metrics. Subclasses set ``name``, ``settings_type`` and implement
    :meth:`_fit`, :meth:`_predict`, :meth:`_params` and :meth:`_load`."""

    name: ClassVar[str]
    kind: ClassVar[str]
    """The ``kind`` of its JSON file (the name, except log_linear's ``task_log_linear``)."""
    settings_type: ClassVar[type | None] = None

    def __init__(self, settings: Any = None, context: FitContext = FitContext()) -> None:
        if settings is None and self.settings_type is not None:
            settings = self.settings_type()
        self.settings, self.context = settings, context
        self.tasks: tuple[str, ...] = ()
        self.m = 0

    @property
    def can_extrapolate(self) -> bool:
        """Whether it predicts mixtures it was not fitted on (as :mod:`pipeline_lib.config.units` says)."""
        return self.name in PREDICTS_UNSEEN

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__ and "name" in cls.__dict__:
            cls.kind = cls.name

    def fit(self, X: Any, Y: Any, tasks: tuple[str, ...]) -> Self:
        """Fit one model per column of ``Y`` (a task's metric, lower is better); returns self."""
        X = check_mixtures(X)
        Y = check_losses(Y, (X.shape[0], len(tasks)), "Y")
        self.tasks, self.m = tuple(tasks), X.shape[1]
        self._fit(X, Y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted metrics ``(N, n)``."""
        if not self.tasks:
            raise RuntimeError(f"regressor {self.name} is not fitted")
        return self._predict(check_mixtures(X, self.m))

    def fresh(self) -> Regressor:
        """An unfitted regressor of the same kind and settings (a leave-one-out refit)."""
        return type(self)(self.settings, self.context)

    def interaction(self) -> np.ndarray | None:
        """A (tasks, domains) matrix of each domain's effect, where the model has one."""
        return None

    def to_dict(self) -> dict[str, Any]:
        settings = None if self.settings is None else dataclasses.asdict(self.settings)
        return {
            "kind": self.kind,
            "tasks": list(self.tasks),
            "m": self.m,
            "settings": settings,
        } | self._params()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        settings = None if cls.settings_type is None else cls.settings_type(**d["settings"])
        out = cls(settings)
        out.tasks, out.m = tuple(d["tasks"]), int(d["m"])
        out._load(d)
        return out

    @abstractmethod
    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _params(self) -> dict[str, Any]: ...

    @abstractmethod
    def _load(self, d: dict[str, Any]) -> None: ...


def present_columns(X: np.ndarray) -> np.ndarray:
    """Which domains some run trained on (a positive weight in some row)."""
    return (X > 0).any(axis=0)


class LinearRegressor(Regressor):
    """Baseline: ``f_i(p) = w_i . p`` by least squares (an intercept is absorbed, since sum p = 1). A domain
    no run trained on gets the mean of the others' weights: it predicts like an average domain."""

    name = "linear"

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        present = present_columns(X)
        W = np.empty((Y.shape[1], X.shape[1]))
        W[:, present] = np.linalg.lstsq(X[:, present], Y, rcond=None)[0].T
        W[:, ~present] = W[:, present].mean(axis=1, keepdims=True)
        self.W = W

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return X @ self.W.T

    def interaction(self) -> np.ndarray:
        return self.W

    def _params(self) -> dict[str, Any]:
        return {"W": self.W.tolist()}

    def _load(self, d: dict[str, Any]) -> None:
        self.W = np.array(d["W"], dtype=float)


class LogLinearRegressor(Regressor):
    """Olmix's law ``f_i(p) = c_i + exp(t_i . p)`` (:class:`~pipeline_lib.lmo.tasklaw.TaskLogLinearLaw`,
    its Huber fit and multi-start); its file is the law's."""

    name, kind = "log_linear", "task_log_linear"
    settings_type = FitSettings

    def fresh(self) -> Regressor:
        """Leave-one-out refits take ``loo_n_random`` random starts per log-c start."""
        return LogLinearRegressor(dataclasses.replace(self.settings, n_random=self.settings.loo_n_random))

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.law = TaskLogLinearLaw.fit(X, Y, self.tasks, self.settings)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.law.predict(X)

    def interaction(self) -> np.ndarray:
        return self.law.t

    def to_dict(self) -> dict[str, Any]:
        return self.law.to_dict()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        out = cls()
        out.law = TaskLogLinearLaw.from_dict(d)
        out.tasks, out.m = out.law.tasks, out.law.m
        return out

    def _params(self) -> dict[str, Any]:  # pragma: no cover - to_dict is the law's
        return {}

    def _load(self, d: dict[str, Any]) -> None:  # pragma: no cover - from_dict is the law's
        pass


class SearchRegressor(Regressor):
    """A lookup of the observed swarm: an observed mixture's mean metric, +inf for any other (olmix's
    SearchRegressor; it pairs with the search proposer)."""

    name = "search"

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.X, self.Y = X.copy(), Y.copy()

    def _predict(self, X: np.ndarray) -> np.ndarray:
        out = np.full((X.shape[0], len(self.tasks)), np.inf)
        for r, x in enumerate(X):
            hit = np.all(np.abs(self.X - x) <= SEARCH_ATOL, axis=1)
            if hit.any():
                out[r] = self.Y[hit].mean(axis=0)
        return out

    def _params(self) -> dict[str, Any]:
        return {"X": self.X.tolist(), "Y": self.Y.tolist()}

    def _load(self, d: dict[str, Any]) -> None:
        self.X, self.Y = np.array(d["X"], dtype=float), np.array(d["Y"], dtype=float)


class BimixRegressor(Regressor):
    """``f_i(p) = sum_j F_ij max(p_j, eps)^(-alpha_ij)`` (:class:`~.settings.BimixSettings`)."""

    name = "bimix"
    settings_type = BimixSettings

    def _curve(self, X: np.ndarray, F: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (F * np.clip(X, self.settings.eps, 1.0) ** (-alpha)).sum(axis=1)

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from scipy.optimize import least_squares

        m, s = X.shape[1], self.settings
        self.F, self.alpha = np.empty((Y.shape[1], m)), np.empty((Y.shape[1], m))
        for i, y in enumerate(Y.T):
            x0 = np.concatenate([np.full(m, max(y.mean(), s.eps) / m), np.ones(m)])
            res = least_squares(
                lambda v, y=y: self._curve(X, v[:m], v[m:]) - y, x0, bounds=(0.0, np.inf), max_nfev=s.max_nfev
            )
            self.F[i], self.alpha[i] = res.x[:m], res.x[m:]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.stack([self._curve(X, F, a) for F, a in zip(self.F, self.alpha, strict=True)], axis=1)

    def interaction(self) -> np.ndarray:
        return self.alpha

    def _params(self) -> dict[str, Any]:
        return {"F": self.F.tolist(), "alpha": self.alpha.tolist()}

    def _load(self, d: dict[str, Any]) -> None:
        self.F, self.alpha = np.array(d["F"], dtype=float), np.array(d["alpha"], dtype=float)


class AutoscaleRegressor(Regressor):
    """``f_i(p) = sum_j (N (alpha_ij + p_j))^(-gamma_ij) + L_i`` (:class:`~.settings.AutoscaleSettings`)."""

    name = "autoscale"
    settings_type = AutoscaleSettings

    @property
    def tokens(self) -> float:
        n = self.settings.tokens if self.settings.tokens is not None else self.context.target_tokens
        if n is None:
            raise ValueError("regressor autoscale needs N: set autoscale.tokens or give the target's tokens")
        return float(n)

    def _curve(self, X: np.ndarray, alpha: np.ndarray, gamma: np.ndarray, L: float) -> np.ndarray:
        return (np.maximum(self.N * (alpha + X), 1e-30) ** (-gamma)).sum(axis=1) + L

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from scipy.optimize import least_squares

        m, self.N = X.shape[1], self.tokens
        n = Y.shape[1]
        self.alpha, self.gamma, self.L = np.empty((n, m)), np.empty((n, m)), np.empty(n)
        for i, y in enumerate(Y.T):
            if y.min() <= 0:
                raise ValueError(
                    f"regressor autoscale: task {self.tasks[i]} has a metric <= 0 (0 <= L <= min)"
                )
            lo = np.concatenate([np.full(2 * m, 1e-12), [0.0]])
            hi = np.concatenate([np.full(2 * m, np.inf), [y.min()]])
            x0 = np.concatenate([np.full(m, 1.0 / m), np.full(m, 0.5), [0.1 * y.min()]])
            res = least_squares(
                lambda v, y=y: self._curve(X, v[:m], v[m : 2 * m], v[-1]) - y, x0, bounds=(lo, hi),
                max_nfev=self.settings.max_nfev,
            )  # fmt: skip
            self.alpha[i], self.gamma[i], self.L[i] = res.x[:m], res.x[m : 2 * m], res.x[-1]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        cols = [self._curve(X, a, g, L) for a, g, L in zip(self.alpha, self.gamma, self.L, strict=True)]
        return np.stack(cols, axis=1)

    def interaction(self) -> np.ndarray:
        return self.gamma

    def _params(self) -> dict[str, Any]:
        return {"N": self.N, "alpha": self.alpha.tolist(), "gamma": self.gamma.tolist(), "L": self.L.tolist()}

    def _load(self, d: dict[str, Any]) -> None:
        self.N, self.L = float(d["N"]), np.array(d["L"], dtype=float)
        self.alpha, self.gamma = np.array(d["alpha"], dtype=float), np.array(d["gamma"], dtype=float)


class LightGBMRegressor(Regressor):
    """Gradient-boosted trees per task (:class:`~.settings.LightGBMSettings`); the file keeps each booster's
    text model, and predictions always come from it (fitted and loaded predict alike)."""

    name = "lightgbm"
    settings_type = LightGBMSettings

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        import lightgbm as lgb

        s = self.settings
        self.models: list[str] = []
        for y in Y.T:
            reg = lgb.LGBMRegressor(
                boosting_type="gbdt", objective="regression", metric=["l1", "l2"],
                n_estimators=s.num_iterations, learning_rate=s.learning_rate,
                min_child_samples=s.min_child_samples, random_state=s.seed, n_jobs=1, deterministic=True,
                verbosity=-1,
            )  # fmt: skip
            stop = (
                [lgb.early_stopping(s.early_stopping_rounds, verbose=False)]
                if s.early_stopping_rounds
                else []
            )
            reg.fit(X, y, eval_X=(X,), eval_y=(y,), eval_metric="l2", callbacks=stop)
            self.models.append(reg.booster_.model_to_string())
        self._boosters = None

    def _loaded(self) -> list[Any]:
        import lightgbm as lgb

        if getattr(self, "_boosters", None) is None:
            self._boosters = [lgb.Booster(model_str=s) for s in self.models]
        return self._boosters

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.stack([b.predict(X) for b in self._loaded()], axis=1)

    def interaction(self) -> np.ndarray:
        return np.array([b.feature_importance("gain") for b in self._loaded()], dtype=float)

    def _params(self) -> dict[str, Any]:
        return {"models": list(self.models)}

    def _load(self, d: dict[str, Any]) -> None:
        self.models, self._boosters = list(d["models"]), None


class GPRegressor(Regressor):
    """A Gaussian process per task (:class:`~.settings.GPSettings`). The file keeps the training runs and
    each fitted kernel's hyper-parameters; loading refits with the optimiser off, which repeats the fitted
    model's algebra, so predictions match."""

    name = "gp"
    settings_type = GPSettings

    def _model(self, theta: np.ndarray | None = None) -> Any:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        s = self.settings
        kernel = ConstantKernel(s.constant_value, (1e-3, 1e3)) * RBF(
            s.length_scale, (1e-2, 1e2)
        ) + WhiteKernel(s.noise_level, (1e-5, 1e1))
        if theta is not None:
            kernel = kernel.clone_with_theta(theta)
        return GaussianProcessRegressor(
            kernel=kernel, n_restarts_optimizer=s.n_restarts, normalize_y=s.normalize_y,
            random_state=self.context.seed, optimizer="fmin_l_bfgs_b" if theta is None else None,
        )  # fmt: skip

    def _fit(self, X: np.ndarray, Y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning

        self.X, self.Y, self.models = X.copy(), Y.copy(), []
        for y in Y.T:
            with (
                warnings.catch_warnings()
            ):  # a hyper-parameter at its bound is the data's answer, not an error
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.models.append(self._model().fit(X, y))
        self.thetas = [gp.kernel_.theta for gp in self.models]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.stack([gp.predict(X) for gp in self.models], axis=1)

    def _params(self) -> dict[str, Any]:
        return {"X": self.X.tolist(), "Y": self.Y.tolist(), "theta": [t.tolist() for t in self.thetas]}

    def _load(self, d: dict[str, Any]) -> None:
        self.X, self.Y = np.array(d["X"], dtype=float), np.array(d["Y"], dtype=float)
        self.thetas = [np.array(t, dtype=float) for t in d["theta"]]
        self.models = [self._model(t).fit(self.X, y) for t, y in zip(self.thetas, self.Y.T, strict=True)]


REGRESSORS: dict[str, type[Regressor]] = {
    cls.name: cls
    for cls in (
        LinearRegressor,
        LogLinearRegressor,
        LightGBMRegressor,
        GPRegressor,
        BimixRegressor,
        AutoscaleRegressor,
        SearchRegressor,
    )
}
"""Every regressor by name (``methods.olmix.regressor``)."""


def make_regressor(name: str, settings: Any = None, context: FitContext = FitContext()) -> Regressor:
    """An unfitted regressor; log_linear's settings (:class:`FitSettings`) take the context's seed."""
    if name not in REGRESSORS:
        raise ValueError(f"unknown regressor {name!r}; choose from {sorted(REGRESSORS)}")
    cls = REGRESSORS[name]
    if cls is LogLinearRegressor:
        settings = dataclasses.replace(settings or FitSettings(), seed=context.seed)
    return cls(settings, context)


def regressor_from_dict(d: dict[str, Any]) -> Regressor:
    """A fitted regressor from its file's dict (its ``kind`` names the type)."""
    kinds = {cls.kind: cls for cls in REGRESSORS.values()}
    if d.get("kind") not in kinds:
        raise ValueError(f"unknown regressor kind {d.get('kind')!r}; known: {sorted(kinds)}")
    return kinds[d["kind"]].from_dict(d)
