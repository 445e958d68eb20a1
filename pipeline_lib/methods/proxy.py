"""Proxy runs of the online reweighting methods (DoReMi, DoGE) and the fit step that reads them.

A proxy run trains a fresh model on stratified (uniform) batches while its policy moves domain weights w;
the method's proportions are w averaged over all updates. The fit step turns the proxy's ``run.json`` into
``fits/<method>/seed<n>.json`` (proportions, weight trace, extra runs), which the final static run reads.

    python -m pipeline_lib.methods.proxy --method doremi --proxy pilots/doremi/seed0/run.json \\
        --reference runs/stratified/seed0/run.json --out fits/doremi/seed0.json
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline_lib.logs import setup_logging
from pipeline_lib.methods.base import NO_INPUTS, MixturePolicy, RunInputs, RunPort
from pipeline_lib.records import ProxyFit, RunRecord, Spent

log = logging.getLogger(__name__)


class ProxyPolicy(MixturePolicy):
    """Samples stratified batches and keeps domain weights ``w`` that only the proxy objective uses.

    Subclasses compute ``w`` in ``backward`` and call :meth:`record`; the summary carries the time average
    (the method's proportions) and the trace of every update."""

    state_fields = ("w", "w_sum", "updates", "trace")

    def __init__(self, groups: tuple[str, ...], cfg: Any, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        self.w = np.full(self.m, 1.0 / self.m)
        self.w_sum = np.zeros(self.m)
        self.updates = 0
        self.trace: list[dict[str, Any]] = []

    def start(self, run: RunPort) -> np.ndarray:
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


def proxy_fit(method: str, proxy: RunRecord, reference: RunRecord | None = None) -> ProxyFit:
    """The fit record of a proxy run: time-averaged weights, their trace and the runs spent on them."""
    summary = proxy.method_summary  # ProxyPolicy.summary()
    avg = np.asarray(summary["avg_domain_weights"], dtype=float)
    runs = [proxy] + ([reference] if reference is not None else [])
    return ProxyFit(
        method=method,
        groups=proxy.groups,
        proportions=tuple((avg / avg.sum()).tolist()),
        final_weights=summary["domain_weights"],
        updates=summary["updates"],
        trace=summary["trace"],
        proxy_val_loss=dict(proxy.val_loss),
        hyper_parameters=proxy.method_params,
        extra_runs=Spent.of(runs),
    )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", required=True, choices=["doremi", "doge"])
    ap.add_argument("--proxy", required=True, help="the proxy run's run.json")
    ap.add_argument("--reference", default=None, help="DoReMi: the reference run's run.json (counted)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    setup_logging()
    reference = RunRecord.read(args.reference) if args.reference else None
    fit = proxy_fit(args.method, RunRecord.read(args.proxy), reference)
    fit.write(args.out)
    log.info("%s time-averaged weights %s", args.method, np.round(fit.proportions, 4).tolist())


if __name__ == "__main__":
    main()
