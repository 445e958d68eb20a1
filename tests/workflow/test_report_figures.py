"""Every figure the workflow writes is in the HTML report (`snakemake --report`), with a caption: the rules'
declared outputs, and a report built on a fabricated Olmix fit folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

from tests.workflow.helpers import REPO, snakemake, two_seed_pair_config, write_config

matplotlib.use("Agg")

_DECLARED = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.io import get_flag_value, is_flagged
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

workdir, snakefile, config = map(Path, sys.argv[1:4])
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=snakefile, workdir=workdir,
                      config_settings=ConfigSettings(configfiles=[config]))._workflow
    rows = []
    for rule in wf.rules:
        for f in rule.output:
            flag = get_flag_value(f, "report") if is_flagged(f, "report") else None
            rows.append({"rule": rule.name, "path": str(f), "directory": bool(is_flagged(f, "directory")),
                         "caption": None if flag is None else str(flag.caption),
                         "patterns": None if flag is None else list(flag.patterns)})
print("DECLARED " + json.dumps(rows))
"""


def declared_outputs(workdir: Path, config: Path) -> list[dict]:
    """Every rule's outputs as the workflow declares them for ``config``: path, directory flag, and the
    report marker's caption and patterns (None when not in the report)."""
    proc = subprocess.run(
        [sys.executable, "-c", _DECLARED, str(workdir), str(REPO / "Snakefile"), str(config)],
        capture_output=True, text=True, cwd=workdir, timeout=300,
    )  # fmt: skip
    line = next((x for x in proc.stdout.splitlines() if x.startswith("DECLARED ")), None)
    assert line is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line.removeprefix("DECLARED "))


@pytest.mark.parametrize(
    "config", ["config.yaml", "config/test/reuse.yaml", "config/test/olmix-design-tiny.yaml"]
)
def test_every_figure_output_is_in_the_report_with_a_caption(tmp_path, config):
    rows = declared_outputs(tmp_path, write_config(config, tmp_path))
    figures = [r for r in rows if r["path"].endswith(".png")]
    directories = [r for r in rows if r["directory"]]
    assert figures, "no figure rule declared"
    for row in figures + directories:  # a directory output is a fit's tables and figures
        assert row["caption"] is not None, f"{row['rule']}: {row['path']} is not in the report"
        caption = (REPO / "rules" / row["caption"]).resolve()
        assert caption.is_file(), f"{row['rule']}: caption {caption} is missing"
    for row in directories:
        assert row["patterns"] == ["{name}.png"], row


def _png(path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_title(title)
    fig.savefig(path, format="png")
    plt.close(fig)


def test_olmix_fit_figures_are_in_the_built_report(tmp_path):
    """A report built on an Olmix fit folder (its figures fabricated) shows each figure with its own caption
    and labels (figure, setting, method, seed)."""
    cfg = two_seed_pair_config(tmp_path, ["stratified", "olmix"])
    results = tmp_path / "results"
    fit_dir = results / "pair" / "fits" / "olmix" / "seed0"
    fit_dir.mkdir(parents=True)
    for name in ("fit", "optimal", "interaction_matrix"):
        _png(fit_dir / f"{name}.png", name)
    (fit_dir.parent / "seed0.json").write_text("{}")
    (results / "report").mkdir()
    (results / "report" / "headline.rst").write_text("The answer.\n")  # the first page includes it
    snakemake(tmp_path, cfg, "--report", str(tmp_path / "report.html"), str(fit_dir.parent / "seed0.json"))
    html = (tmp_path / "report.html").read_text(errors="replace")
    for name in ("fit", "optimal", "interaction_matrix"):
        labels = {"figure": f"olmix {name}", "setting": "pair", "method": "olmix", "seed": "seed0"}
        assert f'"labels": {json.dumps(labels)}' in html, name
    assert "The law of olmix in setting pair, seed 0: each proxy run's observed metric" in html
    assert "The mixture olmix proposes in setting pair, seed 0, beside the" in html
    assert "The interaction matrix of olmix in setting pair, seed 0" in html
