"""Proxy runs of the online reweighting methods (DoReMi, DoGE) and the fit step that reads them.

A proxy run trains a fresh model on stratified (uniform) batches while its policy moves domain weights w;
the method's proportions are w averaged over all updates. The fit step turns the proxy's ``run.json`` into
``fits/<method>/seed<n>.json`` (proportions, weight trace, extra runs), which the final static run reads.

    python -m pipeline_lib.methods.proxy --method doremi --proxy pilots/doremi/seed0/run.json \\
        --reference runs/stratified/seed0/run.json --out fits/doremi/seed0.json
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline_lib.io import read_json, write_json
from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.base import MixturePolicy

if TYPE_CHECKING:
    from pipeline_lib.config import Project, RunSpec

log = logging.getLogger(__name__)


class ProxyPolicy(MixturePolicy):
    """Samples stratified batches and keeps domain weights ``w`` that only the proxy objective uses.

    Subclasses compute ``w`` in ``backward`` and call :meth:`record`; the summary carries the time average
    (the method's proportions) and the trace of every update."""

    def __init__(self, groups: tuple[str, ...], params: dict[str, Any]) -> None:
        super().__init__(groups, params)
        self.w = np.full(self.m, 1.0 / self.m)
        self.w_sum = np.zeros(self.m)
        self.updates = 0
        self.trace: list[dict[str, Any]] = []

    @classmethod
    def proxy_train(cls, train: Any, params: dict[str, Any]) -> Any:
        """The proxy's TrainConfig given the final run's (default: the same schedule)."""
        return train

    def start(self, trainer) -> np.ndarray:
        return np.full(self.m, 1.0 / self.m)  # the proxy samples uniformly; w reweights its objective

    def record(self, step: int, scores: np.ndarray) -> None:
        self.w_sum += self.w
        self.updates += 1
        self.trace.append({"step": step, "weights": self.w.tolist(), "scores": np.asarray(scores).tolist()})

    @property
    def average(self) -> np.ndarray:
        """The time-averaged weights (the current ones before any update)."""
        return self.w_sum / self.updates if self.updates else self.w.copy()

    def summary(self) -> dict[str, Any]:
        return {
            "domain_weights": self.w.tolist(),
            "avg_domain_weights": self.average.tolist(),
            "updates": self.updates,
            "trace": self.trace,
        }


def learning_runs(method: str) -> tuple[str, ...]:
    """The runs a proxy method trains before its final run: DoReMi a reference and a proxy, DoGE a proxy."""
    return ("reference", "proxy") if method == "doremi" else ("proxy",)


def reference_spec(project: Project, setting: str, seed: int) -> RunSpec:
    """DoReMi's reference in a restricted setting: a stratified run with its share of the learning budget
    (unrestricted, the stratified final run is the reference)."""
    spec = project.run_spec(setting, "stratified", seed)
    return dataclasses.replace(spec, train=project.learning_train(setting, len(learning_runs("doremi"))))


def proxy_spec(project: Project, setting: str, method: str, seed: int) -> RunSpec:
    """The proxy run of ``method`` (doremi, doge): the final run's spec, ``methods.<method>`` parameters and
    the ``<method>_proxy`` policy (whose ``proxy_train`` may change the schedule). Restricted, the proxy
    shares the learning budget with DoReMi's reference run."""
    from pipeline_lib.methods import POLICIES

    spec = project.run_spec(setting, method, seed)
    policy = POLICIES[f"{method}_proxy"]
    n_runs = len(learning_runs(method))
    train = policy.proxy_train(project.learning_train(setting, n_runs), spec.method_params)
    return dataclasses.replace(spec, method=f"{method}_proxy", train=train)


def proxy_fit(method: str, proxy: dict, reference: dict | None = None) -> dict:
    """The fit record of a proxy run: time-averaged weights, their trace and the runs spent on them."""
    summary = proxy["method_summary"]
    avg = np.asarray(summary["avg_domain_weights"], dtype=float)
    runs = [proxy] + ([reference] if reference is not None else [])
    return {
        "method": method,
        "groups": list(proxy["groups"]),
        "proportions": (avg / avg.sum()).tolist(),
        "final_weights": summary["domain_weights"],
        "updates": summary["updates"],
        "trace": summary["trace"],
        "proxy_val_loss": proxy["val_loss"],
        "hyper_parameters": proxy["spec"]["method_params"],
        "extra_runs": {
            "runs": len(runs),
            "tokens": sum(int(r.get("tokens_trained", r["tokens"])) for r in runs),
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", required=True, choices=["doremi", "doge"])
    ap.add_argument("--proxy", required=True, help="the proxy run's run.json")
    ap.add_argument("--reference", default=None, help="DoReMi: the reference run's run.json (counted)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    reference = read_json(args.reference) if args.reference else None
    fit = proxy_fit(args.method, read_json(args.proxy), reference)
    write_json(args.out, fit)
    log.info("%s time-averaged weights %s", args.method, np.round(fit["proportions"], 4).tolist())


if __name__ == "__main__":
    main()
