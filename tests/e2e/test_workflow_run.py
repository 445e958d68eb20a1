"""End to end: the whole chain on the shipped corpus with a tiny config, then a no-op rerun."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.records import assert_records_read_back
from tests.workflow.helpers import finished_workflow, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_workflow(tmp_path_factory.mktemp("e2e"), "config/test/tiny.yaml", own_server=True)


def test_every_group_of_every_setting_has_a_finite_perplexity(finished):
    workdir, _ = finished
    results = workdir / "results"
    expected = {"pair": ["arxiv", "stackexchange"], "triple": ["arxiv", "book", "stackexchange"]}
    for setting, groups in expected.items():
        table = pd.read_csv(results / setting / "tables" / "perplexity.csv").set_index("method")
        assert list(table.index) == [
            "stratified", "static", "grid_search", "dml", "aioli", "skillit", "doremi", "doge", "olmix",
            "olmix_pilots",
        ]  # fmt: skip
        for group in groups:
            assert table[group].map(math.isfinite).all() and (table[group] > 1).all()
        assert (
            f"({setting}): test perplexity per group"
            in (results / setting / "tables" / "perplexity.md").read_text()
        )
    table2 = pd.read_csv(results / "report" / "table2.csv")
    assert set(table2["setting"]) == {"pair", "triple"} and table2["mean"].map(math.isfinite).all()
    strat = table2[table2["method"] == "stratified"]
    assert (strat["delta"] == 0).all()
    md = (results / "report" / "table2.md").read_text()
    assert md.startswith("# The answer") and "\n# Table 2" in md  # the headline, then Table 2
    assert "\\toprule" in (results / "report" / "table2.tex").read_text()


def test_run_outputs_are_complete(finished):
    workdir, _ = finished
    run_dir = workdir / "results" / "triple" / "runs" / "static" / "seed0"
    run = json.loads((run_dir / "run.json").read_text())
    assert run["steps"] == 8 and run["tokens"] == 8 * 4 * 32
    assert run["final_mixture"] == {"arxiv": 0.2, "book": 0.3, "stackexchange": 0.5}
    assert set(run["test_ppl"]) == {"arxiv", "book", "stackexchange"}
    meta = json.loads((workdir / "results" / "data" / "arxiv" / "meta.json").read_text())
    assert run["spec"]["model"]["vocab_size"] == meta["vocab_size"]  # the spec as trained
    curve = pd.read_csv(run_dir / "curve.csv")
    assert sorted(curve["step"].unique()) == [0, 4, 8] and set(curve["group"]) == set(run["groups"])
    meta = json.loads((workdir / "results" / "data" / "arxiv" / "meta.json").read_text())
    assert all(meta["splits"][s]["documents"] > 0 for s in ("train", "val", "test"))


def test_offline_methods_and_fidelity(finished):
    workdir, _ = finished
    results = workdir / "results"
    for setting, n_pilots in (("pair", 9), ("triple", 4)):
        table = pd.read_csv(results / setting / "tables" / "perplexity.csv").set_index("method")
        assert (
            table.loc["grid_search", "extra_runs"] == n_pilots and table.loc["dml", "extra_runs"] == n_pilots
        )
        assert table.loc["stratified", "extra_runs"] == 0
        dml = json.loads((results / setting / "fits" / "dml" / "seed0.json").read_text())
        assert sum(dml["proportions"]) == pytest.approx(1.0) and len(dml["runs"]) == n_pilots
        run = json.loads((results / setting / "runs" / "dml" / "seed0" / "run.json").read_text())
        assert list(run["final_mixture"].values()) == pytest.approx(dml["proportions"])
        gs = json.loads((results / setting / "fits" / "grid_search" / "seed0.json").read_text())
        chosen = min(gs["candidates"], key=lambda c: c["avg_val_loss"])
        assert gs["proportions"] == chosen["mixture"]
        fidelity = json.loads((results / setting / "fits" / "fidelity" / "seed0.json").read_text())
        assert fidelity["dynamic"]["break_step"] == 4 and fidelity["dynamic"]["child_steps"] == 2
        assert math.isfinite(fidelity["static"]["fit"]["r2_mean"])
    report = pd.read_csv(results / "report" / "fidelity.csv").set_index("setting")
    assert list(report.index) == ["pair", "triple"]
    # parameter similarity of the online methods' A^t (Aioli, Skill-It, DoReMi/DoGE proxies) to the fitted A*
    sims = report[["sim_aioli", "sim_skillit", "sim_doremi", "sim_doge"]]
    assert sims.notna().all().all() and sims.abs().le(1.0 + 1e-9).all().all()


def test_aioli_trace(finished):
    workdir, _ = finished
    for setting, m in (("pair", 2), ("triple", 3)):
        run = json.loads(
            (workdir / "results" / setting / "runs" / "aioli" / "seed0" / "run.json").read_text()
        )
        rounds = run["method_summary"]["rounds"]
        assert [r["step"] for r in rounds] == [0, 4]  # one round per 4 steps, LearnParams m steps each
        assert (
            run["method_summary"]["lp_steps"] == 2 * m
            and run["steps"] == 8
            and run["extra_runs"]["runs"] == 0
        )
        for r in rounds:
            assert np.asarray(r["A"]).shape == (m, m) and sum(r["p"]) == pytest.approx(1.0)
        mixture = pd.read_csv(workdir / "results" / setting / "runs" / "aioli" / "seed0" / "mixture.csv")
        assert mixture["step"].tolist() == [0, m, 4 + m]  # uniform, then p after each LearnParams


def test_online_baselines(finished):
    workdir, _ = finished
    for setting, m in (("pair", 2), ("triple", 3)):
        results = workdir / "results" / setting
        table = pd.read_csv(results / "tables" / "perplexity.csv").set_index("method")
        assert table.loc[["skillit", "doremi", "doge"], "extra_runs"].tolist() == [m, 2, 1]
        graph = json.loads((results / "fits" / "skillit" / "seed0.json").read_text())
        assert np.asarray(graph["graph"]).shape == (m, m) and len(graph["runs"]) == m
        skillit = json.loads((results / "runs" / "skillit" / "seed0" / "run.json").read_text())
        assert [t["step"] for t in skillit["method_summary"]["trace"]] == [0, 4]  # update every 4 steps
        assert (results / "runs" / "stratified" / "seed0" / "state.pt").exists()  # DoReMi's reference
        for method in ("doremi", "doge"):
            fit = json.loads((results / "fits" / method / "seed0.json").read_text())
            assert sum(fit["proportions"]) == pytest.approx(1.0) and len(fit["trace"]) == 8
            proxy = json.loads((results / "pilots" / method / "seed0" / "run.json").read_text())
            assert proxy["method"] == f"{method}_proxy" and proxy["steps"] == 8
            run = json.loads((results / "runs" / method / "seed0" / "run.json").read_text())
            assert list(run["final_mixture"].values()) == pytest.approx(fit["proportions"])


def test_olmix(finished):
    """Priors, a K = 3(m + 1) swarm of proxies scored in bits per byte, the fit and the capped proposal."""
    workdir, _ = finished
    for setting, m in (("pair", 2), ("triple", 3)):
        results = workdir / "results" / setting
        priors = json.loads((results / "olmix" / "priors.json").read_text())
        metas = {
            g: json.loads((workdir / "results" / "data" / g / "meta.json").read_text())
            for g in priors["domains"]
        }
        tokens = {g: meta["splits"]["train"]["tokens"] for g, meta in metas.items()}
        assert priors["tokens"] == tokens
        assert list(priors["natural"].values()) == pytest.approx(
            [n / sum(tokens.values()) for n in tokens.values()]
        )
        swarm = json.loads((results / "fits" / "olmix_swarm" / "seed0.json").read_text())
        K = 3 * (m + 1)
        assert len(swarm["mixtures"]) == K
        proxy = json.loads((results / "pilots" / "swarm" / "seed0" / f"run{K - 1}" / "run.json").read_text())
        assert list(proxy["final_mixture"].values()) == pytest.approx(swarm["mixtures"][-1])
        assert (
            proxy["steps"] == 4 and proxy["spec"]["model"]["d_model"] == 64
        )  # the nano preset, half the steps
        assert set(proxy["task_bpb"]) == set(priors["domains"]) and all(
            0 < v < 20 for v in proxy["task_bpb"].values()
        )
        fit = json.loads((results / "fits" / "olmix" / "seed0.json").read_text())
        assert fit["extra_runs"]["runs"] == K and fit["extra_runs"]["flops"] > 0
        p = np.array(fit["proportions"])
        assert p.sum() == pytest.approx(1.0) and np.all(p <= np.array(fit["caps"]) + 1e-7)
        ratios = pd.read_csv(results / "fits" / "olmix" / "seed0" / "ratios.csv")
        assert list(ratios.columns) == ["run", "name", "index", *priors["domains"]] and len(ratios) == K
        run = json.loads((results / "runs" / "olmix" / "seed0" / "run.json").read_text())
        assert list(run["final_mixture"].values()) == pytest.approx(fit["proportions"])
        pilots = json.loads((results / "fits" / "olmix_pilots" / "seed0.json").read_text())
        assert pilots["metric"] == "val_loss" and pilots["extra_runs"]["runs"] == (9 if m == 2 else 4)
        table = pd.read_csv(results / "tables" / "olmix.csv")
        assert table["mixture"].tolist() == ["natural", "olmix", "olmix_pilots", "dml"]
        perplexity = pd.read_csv(results / "tables" / "perplexity.csv").set_index("method")
        assert perplexity.loc["olmix", "extra_runs"] == K


def test_second_run_has_nothing_to_do(finished):
    workdir, cfg = finished
    out = snakemake(workdir, cfg, "-n").stdout
    assert "Nothing to be done" in out


def test_changing_how_runs_execute_reruns_nothing(finished):
    """Execution settings (device, compile, checkpoints, sync) are no part of a job's identity: a finished
    workflow stays finished when they change, and only an identity field (the learning rate) reruns jobs."""
    workdir, cfg = finished
    raw = yaml.safe_load(cfg.read_text())
    execution = {"checkpoint_every": 3, "device": "cpu", "compile": True, "sync_every": 4, "pin_memory": True}
    raw["train"] = {**raw["train"], **execution}
    changed = workdir / "execution.yaml"
    changed.write_text(yaml.safe_dump(raw))
    assert "Nothing to be done" in snakemake(workdir, changed, "-n").stdout
    raw["train"]["lr"] = 1e-3
    changed.write_text(yaml.safe_dump(raw))
    assert "Nothing to be done" not in snakemake(workdir, changed, "-n").stdout


def test_restricted_setting(finished):
    """X learns on runs totalling half a final run; X and Aioli + X then train the full 8 steps."""
    workdir, _ = finished
    results = workdir / "results" / "pair" / "restricted"
    pilot = json.loads((results / "pilots" / "grid" / "seed0" / "mix0" / "run.json").read_text())
    assert pilot["steps"] == 1  # 0.5 x 8 steps over 9 pilots, at least 1
    onehot = json.loads((results / "pilots" / "onehot" / "seed0" / "arxiv" / "run.json").read_text())
    assert onehot["steps"] == 2  # 4 steps over m = 2 one-hot runs
    for name, steps in (("reference", 2), ("doremi", 2), ("doge", 4)):
        assert json.loads((results / "pilots" / name / "seed0" / "run.json").read_text())["steps"] == steps
    table = pd.read_csv(results / "tables" / "perplexity.csv").set_index("method")
    xs = ["grid_search", "dml", "skillit", "doremi", "doge"]
    assert list(table.index) == xs + [f"aioli+{x}" for x in xs]
    assert table.loc["grid_search", "extra_runs"] == 9 and table.loc["aioli+doremi", "extra_runs"] == 2
    for x in xs:
        plus = json.loads((results / "runs" / f"aioli+{x}" / "seed0" / "run.json").read_text())
        assert plus["steps"] == 8 and plus["method_summary"]["prior"]["steps"] == 2
        assert [r["step"] for r in plus["method_summary"]["rounds"]] == [2, 6]  # Aioli after the prefix
    dml = json.loads((results / "fits" / "dml" / "seed0.json").read_text())
    plus = pd.read_csv(results / "runs" / "aioli+dml" / "seed0" / "mixture.csv")
    assert plus.iloc[0, 1:].tolist() == pytest.approx(dml["proportions"], abs=1e-6)  # X's mixture first
    table3 = pd.read_csv(workdir / "results" / "report" / "table3.csv")
    assert table3["X"].tolist() == xs and set(table3["setting"]) == {"pair"}
    expected = (table3["X_ppl"] - table3["aioli_plus_X_ppl"]).tolist()
    assert table3["improvement"].tolist() == pytest.approx(expected, abs=1e-3)  # the CSV keeps 6 digits


def test_figures_are_non_empty_pngs(finished):
    workdir, _ = finished
    results = workdir / "results"
    paths = [
        results / "report" / "figures" / "avg_ppl.png",
        results / "pair" / "restricted" / "figures" / "mixtures.png",
    ]
    paths += [
        results / s / "figures" / f"{f}.png"
        for s in ("pair", "triple")
        for f in ("mixtures", "val_loss", "law_fit")
    ]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, path


def test_the_workflow_forked_its_steps(finished):
    """The workflow's fork server imported its preload (the trainer, the report's and the fits' libraries)
    without a thread, so it forked the steps rather than refusing (pipeline_lib/launcher.py)."""
    workdir, _ = finished
    log = (workdir / "results" / "logs" / "launcher.log").read_text()
    assert "not forking" not in log and "Traceback" not in log, log[-2000:]
    forked = re.findall(r"^forked (\S+) ", log, flags=re.M)
    trained = [p for p in (workdir / "results" / "benchmarks").rglob("*.tsv") if p.parent.name != "data"]
    assert forked.count("pipeline_lib.train.run") == len(trained) > 50  # every training job


def test_every_run_and_fit_record_reads_back_to_its_file(finished):
    workdir, _ = finished
    assert assert_records_read_back(workdir / "results") > 100  # every run.json, fit and swarm file


def test_html_report_builds(finished):
    workdir, cfg = finished
    snakemake(workdir, cfg, "--report", str(workdir / "report.html"))
    html = (workdir / "report.html").read_text(errors="replace")
    assert len(html) > 10_000 and "avg_ppl.png" in html
    for name in ("mixtures.png", "val_loss.png", "law_fit.png", "fit.png", "optimal.png"):  # Olmix's too
        assert name in html, name
    # every table inline (HTML), labelled by setting; a first page that says what was run
    for name in ("table2.html", "table3.html", "claims.html", "fidelity.html"):
        assert name in html, name
    assert html.count("perplexity.html") >= 3  # pair, triple and pair/restricted
    assert "What was run" in html and "pair, triple" in html
