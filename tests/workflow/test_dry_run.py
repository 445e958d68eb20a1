"""Dry runs: the DAG of each shipped config, and bad input stopping before any job runs."""

from __future__ import annotations

import gzip
import json
import re
import shutil

import pytest

from tests.workflow.helpers import (
    PLAIN_LOG,
    REPO,
    job_counts,
    run_snakemake,
    snakemake,
    snakemake_args,
    train_jobs,
    write_config,
)


def test_default_config_dag(tmp_path):
    """config.yaml: A/SE alone (m = 2), every method, the law-fidelity sweep and the restricted view."""
    cfg = write_config("config.yaml", tmp_path)
    out = snakemake(tmp_path, cfg, "-n").stdout
    assert train_jobs(out) == {
        "runs": 11 + 6,
        "pilots/grid": 2 * 9,
        "pilots/dynamic": 1 + 9,
        "pilots/onehot": 2,
        "pilots/doremi": 1,
        "pilots/doge": 1 + 1,
        "pilots/swarm": 9,
    }
    counts = job_counts(out)
    assert (counts["train"], counts["mixture"], counts["task_rows"], counts["total"]) == (59, 12 + 6, 2, 111)


def test_demo_with_the_three_group_setting_dag(tmp_path):
    """config.yaml with config/demo-abse.yaml: A/SE and A/B/SE, job by job."""
    cfg = write_config("config.yaml", tmp_path)
    out = snakemake(tmp_path, [cfg, REPO / "config" / "demo-abse.yaml"], "-n").stdout
    # 2 settings (as: m = 2, abse: m = 3) x 1 seed; groups arxiv, stackexchange, book.
    # Unrestricted: stratified (saving its state as DoReMi's reference), dml, aioli (x3 variants), skillit,
    # doremi, doge trained; grid search selects its best pilot; pilots: 9 grid runs each (m = 2 grid;
    # m = 3 cover of 9); dynamic sweep: 1 parent + 9 children each; Skill-It: m one-hot runs; DoReMi, DoGE:
    # one proxy each. Restricted view of `as` (grid search, DML, DoGE): 3 X + 3 Aioli + X trained;
    # shortened learning runs: 9 pilots and a DoGE proxy. Olmix: priors, a swarm of 3(m + 1) proxies, its fit
    # and olmix_pilots' fit (on the grid pilots) per setting; RegMix fits Olmix's swarm (no runs of its own).
    # All 106 training jobs are one rule.
    assert train_jobs(out) == {
        "runs": 2 * 11 + 6,
        "pilots/grid": 3 * 9,
        "pilots/dynamic": 2 * (1 + 9),
        "pilots/onehot": 2 + 3,
        "pilots/doremi": 2,
        "pilots/doge": 2 + 1,
        "pilots/swarm": 9 + 12,
    }
    assert job_counts(out) == {
        "all": 1,
        "pack": 3,
        "tokenizer": 1,
        "train": 106,
        "fit": 2 + (2 * 2 + 1) + 3 + 3 + 2,  # skillit, the proxies, dml, grid search, the swarm draws
        "fit_with_tables": 2 + 2 + 2,  # olmix, olmix_pilots, regmix
        "select_pilot": 2,
        "law_fidelity": 2,
        "fidelity_table": 2,
        "fidelity_report": 1,
        "setting_table": 3,
        "table2": 1,
        "table3": 1,
        "mixture_figure": 3,
        "val_loss_figure": 2,
        "law_fit_figure": 2,
        "avg_ppl_figure": 1,
        "claims": 1,
        "priors": 2,
        "law_table": 2,
        "mixture": 2 * 12 + 6,  # every final run's mixture (grid search's selected pilot; restricted)
        "task_rows": 2,  # the shipped tasks' test (final runs) and val (Olmix's proxies) variants
        "total": 157 + 30 + 2,
    }


def test_regmix_own_sampling_dag(tmp_path):
    """RegMix with sampling regmix: a swarm of its own (drawn by its step, 3(m + 1) proxies per setting)
    beside Olmix's, and its fit reads its own proxies."""
    methods = ["stratified", "olmix", "regmix"]
    overrides = {"methods.regmix": {"extends": "olmix", "sampling": "regmix"}, "run.methods": methods}
    cfg = write_config("config/test/tiny.yaml", tmp_path, **overrides)
    out = snakemake(tmp_path, cfg, "-n", "--printshellcmds").stdout
    jobs = train_jobs(out)
    assert jobs["pilots/swarm"] == jobs["pilots/swarm_regmix"] == 9 + 12  # pair (m = 2), triple (m = 3)
    for view in ("pair", "triple"):
        assert f"--out {tmp_path}/results/{view}/fits/regmix_swarm/seed0.json" in out
    fits = [line for line in out.splitlines() if "fit-runs" in line and "--method regmix" in line]
    runs = [run for line in fits for run in re.findall(r"\S+/run\.json", line)]
    assert len(fits) == 2 and len(runs) == 9 + 12 and all("/pilots/swarm_regmix/" in r for r in runs)


def test_sample_full_overlay_dag(tmp_path):
    base = write_config("config.yaml", tmp_path)
    out = snakemake(tmp_path, [base, REPO / "config/sample-full.yaml"], "-n").stdout
    counts = job_counts(out)  # 6 settings x 3 seeds, all 7 groups; all7 pilots: a 10-point cover
    assert counts["pack"] == 7 and counts["setting_table"] == 2 * 6 and counts["law_fidelity"] == 6 * 3
    jobs = train_jobs(out)
    assert jobs["runs"] == 6 * 3 * 9 + 6 * 3 * 10  # unrestricted (no GS rerun) + restricted
    assert jobs["pilots/reference"] == 6 * 3  # DoReMi's restricted reference
    assert jobs["pilots/onehot"] == 2 * 3 * (2 + 2 + 2 + 3 + 3 + 7)
    assert jobs["pilots/grid"] == 2 * 3 * (5 * 9 + 10)
    assert counts["train"] == sum(jobs.values())
    assert counts["mixture"] == 6 * 3 * 10 + 6 * 3 * 10  # every final run, grid search's selected pilots too


def test_every_final_run_exports_its_mixture(tmp_path):
    """The mixture rule writes results/<view>/mixtures/<method>/seed<n>.{json,yaml} from the run's run.json,
    for every method (Aioli + X in the restricted view too), through the export command."""
    cfg = write_config("config.yaml", tmp_path)
    results = tmp_path / "results"  # the test configs' results_dir is absolute
    target = results / "as/restricted/mixtures/aioli+dml/seed0.yaml"
    out = snakemake(tmp_path, cfg, "-n", "-p", str(target)).stdout
    assert f"-m pipeline_lib.export --run {results}/as/restricted/runs/aioli+dml/seed0/run.json" in out
    assert f"--format plain --out {target.with_suffix('.json')} {target}" in out  # one process, both files
    everything = snakemake(tmp_path, cfg, "-n", "-p").stdout
    for method in ("stratified", "grid_search", "aioli", "olmix", "doremi"):
        assert f"--out {results}/as/mixtures/{method}/seed0.json" in everything


def test_reuse_config_dag(tmp_path):
    """config/olmix-reuse.yaml alone: 9 packed groups (6 + 3 views), per seed 177 new proxies (stage 0's 15
    shared; full 81, FullMixtureReuse 33, PartialMixtureReuse 42, swarm reuse 6) and 5 targets; a plan per
    link but natural's (1 + 4 x 4), a fit per link (2 + 5 x 4), the downstream tasks' rows of val and test;
    no Aioli tables."""
    cfg = write_config("config/olmix-reuse.yaml", tmp_path)
    counts = job_counts(snakemake(tmp_path, cfg, "-n").stdout)
    assert counts == {
        "all": 1, "pack": 9, "tokenizer": 1, "reuse_priors": 5, "reuse_plan": 3 * 17, "reuse_fit": 3 * 22,
        "train": 3 * (177 + 5), "reuse_table": 1, "task_rows": 2, "total": 682,
    }  # fmt: skip


def test_reuse_priors_take_the_configured_natural_distribution(tmp_path):
    """methods.olmix.natural reaches each stage's priors, restricted to the stage's domains."""
    domains = ["arxiv", "book", "stackexchange", "wikipedia", "github", "manpages", "wikipedia_long",
               "book_bible", "book_austen"]  # fmt: skip
    natural = {d: float(i + 1) for i, d in enumerate(domains)}
    cfg = write_config("config/olmix-reuse.yaml", tmp_path, **{"methods.olmix.natural": natural})
    out = snakemake(tmp_path, cfg, "-n", "--printshellcmds", "--until", "reuse_priors").stdout
    found = re.findall(r"--natural '([^']*)' --out \S*/reuse/stage(\d)/priors.json", out)
    given = {int(stage): json.loads(text) for text, stage in found}
    assert sorted(given) == [0, 1, 2, 3, 4] and given[0] == {d: natural[d] for d in domains[:4]}
    assert given[4] == {d: natural[d] for d in ("arxiv", "book_bible", "book_austen", "stackexchange",
                                                 "wikipedia_long", "github")}  # fmt: skip
    del natural["book_austen"]
    bad = write_config("config/olmix-reuse.yaml", tmp_path, **{"methods.olmix.natural": natural})
    proc = snakemake(tmp_path, bad, "-n", check=False)
    assert proc.returncode != 0
    assert "methods.olmix: natural has no weight for ['book_austen'] (reuse stage4)" in proc.stdout


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"trian": {"steps": 3}}, "Additional properties are not allowed ('trian'"),
        ({"methods.skillit": {"etta": 0.2}}, "methods.skillit: unknown parameter(s) ['etta']"),
        ({"methods.aioli.eta": 0}, "methods.aioli.eta: must be > 0, got 0"),
        ({"methods.aioli.eta": -0.5}, "methods.aioli.eta: must be > 0, got -0.5"),
        ({"settings.as.methods": {"aioli": {"eta": 0}}}, "settings.as.methods.aioli.eta: must be > 0, got 0"),
        ({"methods.alchemy": {"eta": 1}}, "methods: unknown method 'alchemy'"),
        (
            {"settings.as.static": {"arxiv": 0.5, "stackexchange": 0.6}},
            "settings.as.static: proportions must sum to 1",
        ),
        ({"settings.as.static": {"arxiv": 1.0}}, "must name exactly the setting's groups"),
        (
            {
                "settings.as.groups": ["arxiv", "klingon"],
                "settings.as.static": {"arxiv": 0.5, "klingon": 0.5},
            },
            "group 'klingon': corpus file",
        ),
        ({"run.methods": ["stratified", "alchemy"]}, "unknown method 'alchemy'"),
        ({"methods.aioli": {"etaa": 1}}, "methods.aioli: unknown parameter(s) ['etaa']"),
        (
            {"methods.olmix.regressor": "xgboost"},
            "methods.olmix.regressor: regressor 'xgboost' is not a regressor; choose from "
            "['autoscale', 'bimix', 'gp', 'lightgbm', 'linear', 'log_linear', 'search']",
        ),
        (
            {"methods.olmix.proposer": "anneal"},
            "methods.olmix.proposer: proposer 'anneal' is not a proposer; choose from ['exact', 'search', "
            "'simulation', 'topk']",
        ),
        (
            {"methods.regmix": {"extends": "olmix", "sampling": "sobol"}},
            "methods.regmix.sampling: must be one of olmix, regmix, got 'sobol'",
        ),
        (
            {"settings.abse.methods": {"aiolii": {"eta": 1}}},
            "settings.abse.methods: unknown method(s) ['aiolii']",
        ),
        (
            {"methods.skillit": {"update_steps": 30}},
            "methods.skillit: update_steps (30) must be a positive multiple",
        ),
        (
            {"settings.as.methods": {"aioli": {"lp_rounds": 5, "lp_steps": 4}}},
            "settings.as.methods.aioli: LearnParams takes lp_rounds x lp_steps x m = 40 steps, not fewer",
        ),
        ({"train.steps": 0}, "train"),
        ({"train.steps": "many"}, "invalid configuration: train.steps: 'many' is not of type 'integer'"),
        (
            {"data.tokenizer": {"kind": "file", "path": "missing.json"}},
            "data.tokenizer.path: file 'missing.json' does not exist",
        ),
        (
            {"data.tokenizer": {"kind": "file"}},
            "data.tokenizer.path: required with data.tokenizer.kind 'file'",
        ),
        ({"data.tokenizer": {"kind": "hub"}}, "data.tokenizer.name: required with data.tokenizer.kind 'hub'"),
        (
            {"data.split.val_fraction": 0.001},  # arxiv's 196 documents: none in val
            "group 'arxiv': none of its 196 document(s) in",
        ),
        (
            {"data.source.max_docs_per_group": 5},
            "falls in the test split (a hash of each document's id with data.split.salt 'mixpipe' decides); "
            "raise data.source.max_docs_per_group (5), add documents",
        ),
        (
            {"data.source.group_field": "license"},
            "group 'arxiv' has no documents in {REPO}/data/sample/arxiv.jsonl.gz: no record there has "
            "data.source.group_field 'license' equal to 'arxiv'",
        ),
    ],
)
def test_bad_input_fails_before_any_job(tmp_path, overrides, message):
    cfg = write_config("config.yaml", tmp_path, **overrides)
    proc = snakemake(tmp_path, cfg, "-n", check=False)
    assert proc.returncode != 0
    assert message.replace("{REPO}", str(REPO)) in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_missing_corpus_directory(tmp_path):
    cfg = write_config("config.yaml", tmp_path, **{"data.source.path": str(tmp_path / "nowhere")})
    proc = snakemake(tmp_path, cfg, "-n", check=False)
    assert proc.returncode != 0 and "does not exist" in proc.stdout + proc.stderr
    assert "files there: none. Point data.source.path at the corpus directory" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_unknown_key_is_one_paragraph(tmp_path):
    """The key path, jsonschema's message and the fix; not the ~600-line schema and config dump."""
    cfg = write_config("config.yaml", tmp_path, trian={"steps": 3})
    proc = snakemake(tmp_path, cfg, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "invalid configuration: top level: Additional properties are not allowed ('trian' was unexpected); "
        "remove the key or correct its name" in out
    )
    assert len(out.splitlines()) < 10 and "Failed validating" not in out and "$schema" not in out


def _bad_line(lines: list[bytes], at: int, bad: bytes) -> list[bytes]:
    return [*lines[: at - 1], bad + b"\n", *lines[at - 1 :]]


_NO_TEXT = b'{"domain": "stackexchange", "source": "x", "body": "no text"}'
_LATIN1 = b'{"domain": "stackexchange", "source": "y", "text": "caf\xe9"}'


@pytest.mark.parametrize(
    "bad,message",
    [
        (b'{"domain": "stackexchange", "text": ', ":100: not valid JSON (Expecting value at column 37)"),
        (_NO_TEXT, ':100: record has no string field "text"'),
        (_LATIN1, ":100: not valid UTF-8 at byte "),
    ],
    ids=["invalid-json", "no-text", "non-utf8"],
)
def test_bad_corpus_record_fails_before_any_job(tmp_path, bad, message):
    """A bad record deep in a corpus file stops the dry run with the file and line (no tokenizer job)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "data/sample", corpus)
    path = corpus / "stackexchange.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    path.write_bytes(gzip.compress(b"".join(_bad_line(lines, 100, bad))))
    cfg = write_config("config.yaml", tmp_path, **{"data.source.path": str(corpus)})
    proc = snakemake(tmp_path, cfg, "-n", check=False)
    assert proc.returncode != 0
    assert f"{path}{message}" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
    if bad is _LATIN1:
        offset = sum(map(len, lines[:99])) + bad.index(b"\xe9")
        assert (
            f"{path}:100: not valid UTF-8 at byte {offset} of the uncompressed text"
            in proc.stdout + proc.stderr
        )


def test_malformed_default_config_names_the_line(tmp_path):
    """Without --configfile the workflow reads config.yaml itself, and names the line of a YAML error. (A
    --configfile is read by Snakemake's command line before the workflow: its message is Snakemake's.)"""
    text = (
        (REPO / "config.yaml").read_text().replace("  batch_size: 12\n", "  batch_size: 12\n   lr: [1\n", 1)
    )
    (tmp_path / "config.yaml").write_text(text)
    line = text.splitlines().index("   lr: [1") + 1
    proc = run_snakemake(["--snakefile", str(REPO / "Snakefile"), "-n", *PLAIN_LOG], tmp_path, timeout=300)
    assert proc.returncode != 0
    assert (
        f"config.yaml:{line}:6: not valid YAML: mapping values are not allowed here"
        in proc.stdout + proc.stderr
    )
    assert not (tmp_path / "results").exists()


def test_conda_deployment_dry_run(tmp_path):
    """--software-deployment-method conda: every rule's environment is environment.yml and the steps run
    the environment's `python`. A stand-in `conda` answers the version and info queries of a dry run (the
    machines this suite runs on have no conda)."""
    import os
    import stat

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    conda = bin_dir / "conda"
    conda.write_text(
        '#!/bin/sh\ncase "$*" in\n'
        f'  *"info --json"*) echo \'{{"conda_prefix": "{tmp_path}/conda", "platform": "linux-64"}}\';;\n'
        '  *--version*) echo "conda 24.7.1";;\n'
        '  *config*) echo \'{"get": {"channel_priority": "strict"}}\';;\n'
        "  *) echo '{}';;\nesac\n"
    )
    conda.chmod(conda.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    cfg = write_config("config.yaml", tmp_path)
    cmd = ["-n", "-p", "--software-deployment-method", "conda"]
    proc = run_snakemake([*snakemake_args(tmp_path, cfg), *cmd], tmp_path, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"Conda environment {REPO}/rules/../environment.yml will be created" in out
    steps = [line for line in out.splitlines() if "-m pipeline_lib." in line]
    assert steps and all(re.search(r"(^|\s)python -m pipeline_lib\.", line) for line in steps)
    assert job_counts(out)["total"] == 111  # the demo's jobs (test_default_config_dag)


def test_the_law_table_is_made_only_for_a_method_it_belongs_to(tmp_path):
    """DML is only a peer column of the law table: without Olmix there is no table to make."""
    cfg = write_config("config/test/tiny.yaml", tmp_path, **{"run.methods": ["stratified", "dml"]})
    counts = job_counts(snakemake(tmp_path, cfg, "-n").stdout)
    assert counts["fit"] >= 1 and "law_table" not in counts and "fit_with_tables" not in counts
