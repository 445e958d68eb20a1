"""Two seeds through the workflow: Table 2 with paired intervals, and the claims table they resolve."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.workflow.helpers import snakemake, write_config

pytestmark = pytest.mark.slow


def test_two_seed_workflow_reports_intervals_and_claims(tmp_path):
    cfg = write_config(
        "config/test/tiny.yaml",
        tmp_path,
        settings={"pair": {"groups": ["arxiv", "stackexchange"]}},
        run={
            "settings": ["pair"],
            "methods": ["stratified", "aioli"],
            "seeds": [0, 1],
            "law_fidelity": False,
        },
        restricted={"settings": []},
    )
    snakemake(tmp_path, cfg)
    report = tmp_path / "results" / "report"
    table2 = pd.read_csv(report / "table2.csv").set_index("method")
    aioli = table2.loc["aioli"]
    assert aioli["pairs"] == 2 and aioli["delta_lo"] < aioli["delta"] < aioli["delta_hi"]
    assert aioli["delta_label"].count("[") == 1 and aioli["verdict"] in ("better", "worse", "not resolved")
    claims = pd.read_csv(report / "claims.csv").set_index("claim")
    first = claims.loc["Aioli beats stratified in every setting"]
    assert first["verdict"] in ("holds", "contradicted", "not resolved at this scale")
    assert claims.loc["Aioli + X beats X", "verdict"] == "not run"
    assert claims.loc["No other method beats stratified in every setting", "verdict"] == "not run"
    assert "Verdicts from paired 95% t-intervals over 2 seed(s)" in (report / "claims.md").read_text()
