"""Olmix's file layouts: ``priors.json`` and a swarm as ``ratios.csv`` + ``metrics.csv``.

``ratios.csv`` has columns ``run, name, index, <domain...>`` (each row sums to 1 within 0.01) and
``metrics.csv`` has ``run, name, index, <metric...>``; they join on ``run`` (olmix also accepts ``run_id``),
and rows with a missing value are dropped, as olmix does. Both are written at full precision and a row that
sums to 1 within :data:`EXACT_SUM_ATOL` is read as written, so a fit from the files is the fit the workflow
made from its runs, to the bit; other rows (olmix's own files: 0.01) are renormalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline_lib.io import read_json, write_csv, write_json

if TYPE_CHECKING:
    from pipeline_lib.records import RunRecord

ID_COLUMNS = ("run", "name", "index")
ROW_SUM_ATOL = 0.01
EXACT_SUM_ATOL = 1e-12  # a row this close to 1 is a full-precision mixture: read as written


@dataclass(frozen=True)
class Priors:
    """Each domain's token count N_j and the natural distribution p0 = N / sum N (or a manual prior)."""

    domains: tuple[str, ...]
    tokens: np.ndarray
    natural: np.ndarray

    @classmethod
    def from_tokens(cls, tokens: Mapping[str, float], manual: Mapping[str, float] | None = None) -> Priors:
        domains = tuple(tokens)
        n = np.array([float(tokens[d]) for d in domains])
        if n.min() <= 0:
            raise ValueError(f"every domain needs tokens; got {dict(zip(domains, n.tolist(), strict=True))}")
        missing = sorted(set(domains) - set(manual or domains))
        if missing:
            raise ValueError(f"the natural distribution has no weight for domain(s) {missing}")
        p0 = n / n.sum() if manual is None else np.array([float(manual[d]) for d in domains])
        return cls(domains, n, p0 / p0.sum())

    @classmethod
    def from_data(
        cls, data_dir: str | Path, groups: Sequence[str], natural: Mapping[str, float] | None = None
    ) -> Priors:
        """From the pack step's ``meta.json``: each group's train-split tokens (what a run can repeat); p0
        their shares, or ``natural`` when given."""
        metas = {g: read_json(Path(data_dir) / g / "meta.json") for g in groups}
        return cls.from_tokens({g: m["splits"]["train"]["tokens"] for g, m in metas.items()}, natural)

    def to_dict(self) -> dict:
        return {
            "domains": list(self.domains),
            "tokens": dict(zip(self.domains, self.tokens.tolist(), strict=True)),
            "natural": dict(zip(self.domains, self.natural.tolist(), strict=True)),
        }

    @classmethod
    def read(cls, path: str | Path) -> Priors:
        """The priors in their own ``domains`` order (the JSON's dicts are stored with sorted keys)."""
        d = read_json(path)
        order = d.get("domains") or list(d["tokens"])
        return cls.from_tokens({dom: d["tokens"][dom] for dom in order}, d.get("natural"))

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    def select(self, domains: Sequence[str]) -> Priors:
        """These domains, in this order (the swarm's columns)."""
        missing = sorted(set(domains) - set(self.domains))
        if missing:
            raise ValueError(f"the priors have no domain(s) {missing}; they have {list(self.domains)}")
        idx = [self.domains.index(d) for d in domains]
        return Priors(tuple(domains), self.tokens[idx], self.natural[idx] / self.natural[idx].sum())


@dataclass(frozen=True)
class Swarm:
    """K runs: their ids, mixtures P (K, m) over ``domains`` and metrics Y (K, n) of ``tasks``."""

    runs: tuple[str, ...]
    domains: tuple[str, ...]
    P: np.ndarray
    tasks: tuple[str, ...]
    Y: np.ndarray

    def write(self, ratios: str | Path, metrics: str | Path, names: Sequence[str] | None = None) -> None:
        ids = pd.DataFrame({"run": self.runs, "name": names or self.runs, "index": range(len(self.runs))})
        write_csv(ratios, pd.concat([ids, pd.DataFrame(self.P, columns=list(self.domains))], axis=1), None)
        write_csv(metrics, pd.concat([ids, pd.DataFrame(self.Y, columns=list(self.tasks))], axis=1), None)

    @classmethod
    def read(cls, ratios: str | Path, metrics: str | Path) -> Swarm:
        """Join the two files on ``run`` (or ``run_id``); drop rows with a missing value; check the rows."""
        r = _with_run(pd.read_csv(ratios), ratios)
        m = _with_run(pd.read_csv(metrics), metrics)
        domains = [c for c in r.columns if c not in ID_COLUMNS]
        tasks = [c for c in m.columns if c not in ID_COLUMNS]
        if len(domains) < 2 or not tasks:
            raise ValueError(f"{ratios} needs >= 2 domain columns and {metrics} >= 1 metric column")
        # joined on the run, each side's columns kept apart (a task may be named as a domain)
        left, right = r.set_index("run")[domains], m.set_index("run")[tasks]
        both = left.index[left.index.isin(right.index)]
        left, right = left.loc[both], right.loc[both]
        ok = (left.notna().all(axis=1) & right.notna().all(axis=1)).to_numpy()
        left, right = left[ok], right[ok]
        if left.empty:
            raise ValueError(f"no run of {ratios} has metrics in {metrics} (joined on 'run')")
        # C order, as the workflow's arrays: the same sums in the same order, so the same bits
        P = np.ascontiguousarray(left.to_numpy(float))
        bad = np.flatnonzero(np.abs(P.sum(axis=1) - 1.0) > ROW_SUM_ATOL)
        if bad.size or P.min() < 0:
            runs = left.index[bad].tolist()
            raise ValueError(f"{ratios}: mixtures must be non-negative and sum to 1 (runs {runs} do not)")
        off = np.abs(P.sum(axis=1) - 1.0) > EXACT_SUM_ATOL
        P[off] = P[off] / P[off].sum(axis=1, keepdims=True)
        Y = np.ascontiguousarray(right.to_numpy(float))
        return cls(tuple(map(str, left.index)), tuple(domains), P, tuple(tasks), Y)


def run_scores(records: Sequence[RunRecord], metrics: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """The runs' scores, a row per run: each metric's tasks (``task_bpb``: the task groups,
    ``downstream_bpb``: the downstream tasks, ...) side by side in ``metrics``' order; a task name two metrics
    share is an error."""
    columns = [(m, t) for m in metrics for t in records[0].metric(m)] if records else []
    tasks = tuple(t for _, t in columns)
    if len(set(tasks)) != len(tasks):
        clash = sorted({t for t in tasks if tasks.count(t) > 1})
        raise ValueError(
            f"metrics {list(metrics)} share the column name(s) {clash}: rename the downstream task or the "
            "group"
        )
    return tasks, np.array([[r.metric(m)[t] for m, t in columns] for r in records])


def _with_run(frame: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    if "run" not in frame.columns and "run_id" in frame.columns:
        frame = frame.rename(columns={"run_id": "run"})
    if "run" not in frame.columns:
        raise ValueError(f"{path}: no 'run' (or 'run_id') column; columns are {list(frame.columns)}")
    return frame.drop(columns=[c for c in ("name", "index") if c in frame.columns]).assign(
        run=frame["run"].astype(str)
    )
