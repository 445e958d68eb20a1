"""End to end: every method of the default demo on a setting listing its groups in reverse alphabetical order,
beside the same groups sorted (issue 24: Olmix's swarm named its columns alphabetically and every proxy
stopped).

What must not depend on the listing order, and is asserted equal (by group name): Olmix's priors, the uniform
mixture, and every method's schedule and spending (steps, tokens, FLOPs, learning runs, the steps its
mixture changes at). What does, so is only asserted to run and to name its groups in the setting's order
(run.json, mixture.csv, curve.csv, fits, swarm, ratios.csv):

- every trained run, stratified included: the sampler (``MixtureSampler``) seeds group i's chunk order with
  spawn i of the run's seed and draws group indices by inverse CDF over the listed positions, so the same
  seed gives other batches in another order. This stays per position: settings published out of
  alphabetical order (ghd and mgw in sample-full, the paper's ghc4 and ccghw) keep their numbers;
- grid search and DML: the pilots' Dirichlet cover (m >= 3) is drawn per column, DML's multi-start fit draws
  its starts group after group;
- Olmix: its swarm is drawn per column (Dirichlet), its task laws' random starts per column; olmix_pilots
  fits DML's pilots the same way; RegMix fits the same swarm and samples its candidates per column;
- Aioli and its ablations: LearnParams visits the groups in a seeded order drawn over their positions;
- Skill-It, DoReMi, DoGE: their one-hot runs and proxies are trained runs (the sampler, above).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.workflow.helpers import REPO, snakemake, write_config

pytestmark = pytest.mark.slow

SORTED = ["arxiv", "book", "stackexchange"]
ORDERS = {"sorted": SORTED, "reversed": SORTED[::-1]}
DEMO = yaml.safe_load((REPO / "config.yaml").read_text())
METHODS = DEMO["run"]["methods"]
FITS = {  # method -> the fit file its final run trains on (grid search copies its best pilot instead)
    "dml": "dml", "doremi": "doremi", "doge": "doge", "olmix": "olmix", "olmix_pilots": "olmix_pilots",
    "skillit": "skillit", "regmix": "regmix",
}  # fmt: skip


def _config(workdir: Path) -> Path:
    """tiny.yaml with both settings, the demo's methods (the demo's entry where tiny has none), a swarm of
    K = m + 1 proxies, no law fidelity and no restricted runs (neither is a method)."""
    tiny = yaml.safe_load((REPO / "config" / "test" / "tiny.yaml").read_text())
    methods = {m: DEMO["methods"][m] for m in METHODS if m not in tiny["methods"]} | tiny["methods"]
    methods["olmix"] = {**methods["olmix"], "swarm_factor": 1.0}
    return write_config(
        "config/test/tiny.yaml",
        workdir,
        settings={name: {"groups": groups} for name, groups in ORDERS.items()},
        run={"settings": list(ORDERS), "methods": METHODS, "seeds": [0], "law_fidelity": False},
        restricted={"settings": []},
        methods=methods,
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("order")
    cfg = _config(workdir)
    out = workdir / "results"
    targets = [str(out / s / "runs" / m / "seed0" / "run.json") for s in ORDERS for m in METHODS]
    snakemake(workdir, cfg, *targets, *(str(out / s / "tables" / "perplexity.csv") for s in ORDERS))
    return out


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _run(results: Path, setting: str, method: str) -> dict:
    return _json(results / setting / "runs" / method / "seed0" / "run.json")


def _by_name(groups: list[str], values: list[float]) -> dict[str, float]:
    return dict(zip(groups, values, strict=True))


@pytest.mark.parametrize("method", METHODS)
def test_each_method_runs_in_both_orders_and_names_groups_as_listed(results, method):
    for setting, groups in ORDERS.items():
        run = _run(results, setting, method)
        assert run["groups"] == groups and run["spec"]["groups"] == groups
        assert set(run["final_mixture"]) == set(run["test_loss"]) == set(groups)
        assert all(math.isfinite(v) and v > 0 for v in run["test_loss"].values())
        run_dir = results / setting / "runs" / method / "seed0"
        mixture = pd.read_csv(run_dir / "mixture.csv")
        assert list(mixture.columns) == ["step", *groups]  # the mixture's columns: the setting's order
        last = mixture.iloc[-1][groups].to_numpy(float)  # the last change holds to the end
        assert last == pytest.approx([run["final_mixture"][g] for g in groups], rel=1e-5)
        assert set(pd.read_csv(run_dir / "curve.csv")["group"]) == set(groups)
        table = pd.read_csv(results / setting / "tables" / "perplexity.csv").set_index("method")
        assert table.loc[method, groups].map(math.isfinite).all()


@pytest.mark.parametrize("method", METHODS)
def test_what_does_not_depend_on_the_order_is_equal(results, method):
    a, b = (_run(results, s, method) for s in ORDERS)
    spent = [(r["steps"], r["tokens"], r["compute"]["flops"]) for r in (a, b)]
    assert spent[0] == spent[1]
    assert a["extra_runs"] == b["extra_runs"]  # learning runs, their tokens and FLOPs
    steps = [pd.read_csv(results / s / "runs" / method / "seed0" / "mixture.csv")["step"] for s in ORDERS]
    assert steps[0].tolist() == steps[1].tolist()  # when the mixture changes
    if method == "stratified":
        assert a["final_mixture"] == b["final_mixture"]


@pytest.mark.parametrize("method", [m for m in METHODS if m in FITS or m == "grid_search"])
def test_final_runs_train_on_their_fit_by_group_name(results, method):
    for setting, groups in ORDERS.items():
        run = _run(results, setting, method)
        fit = _json(results / setting / "fits" / FITS.get(method, method) / "seed0.json")
        assert fit["groups"] == groups
        if method == "grid_search":  # its final run is its best pilot
            chosen = _json(Path(fit["selected_run"]))
            assert _by_name(groups, fit["proportions"]) == chosen["final_mixture"] == run["final_mixture"]
        elif method == "skillit":  # the graph's row i is the run that trained on group i only
            hot = [_json(Path(p))["final_mixture"] for p in fit["runs"]]
            assert [mix[g] for mix, g in zip(hot, groups, strict=True)] == [1.0] * len(groups)
        else:
            mix = _by_name(groups, fit["proportions"])
            assert run["final_mixture"] == pytest.approx(mix, rel=1e-12)
        if method in ("doremi", "doge"):
            assert _json(results / setting / "pilots" / method / "seed0" / "run.json")["groups"] == groups


def test_olmix_priors_swarm_and_fit_follow_the_listing_order(results):
    priors = {s: _json(results / s / "olmix" / "priors.json") for s in ORDERS}
    for setting, groups in ORDERS.items():
        p = priors[setting]
        assert p["domains"] == groups
        assert p["tokens"] == priors["sorted"]["tokens"]  # by name, exactly
        # summed in the listing order when written: equal to the last bits' rounding
        assert p["natural"] == pytest.approx(priors["sorted"]["natural"], rel=1e-12)
        swarm = _json(results / setting / "fits" / "olmix_swarm" / "seed0.json")
        assert swarm["groups"] == groups and len(swarm["mixtures"]) == swarm["size"] == len(groups) + 1
        for k, row in enumerate(swarm["mixtures"]):  # proxy k trained on row k, column j being group j
            proxy = _json(results / setting / "pilots" / "swarm" / "seed0" / f"run{k}" / "run.json")
            assert proxy["groups"] == groups
            assert proxy["final_mixture"] == pytest.approx(_by_name(groups, row), rel=1e-12)
        for fit_name in ("olmix", "olmix_pilots"):
            fit = _json(results / setting / "fits" / fit_name / "seed0.json")
            assert fit["groups"] == groups and sum(fit["proportions"]) == pytest.approx(1.0)
            assert _by_name(groups, fit["natural"]) == pytest.approx(p["natural"], rel=1e-12)
        ratios = pd.read_csv(results / setting / "fits" / "olmix" / "seed0" / "ratios.csv")
        assert list(ratios.columns) == ["run", "name", "index", *groups]
