"""The design experiment's DAG (config/olmix-design.yaml and its tiny test config): swarms, their analyses
and one report, no final run; a bad design block stops the dry run."""

from __future__ import annotations

import re

import pytest

from tests.workflow.helpers import job_counts, snakemake, write_config


def test_tiny_design_dag_has_the_design_rules_and_no_final_run(tmp_path):
    """m = 2 and 3 at swarm_factor 2: 6 + 8 proxies, a swarm draw and priors each, one analysis per
    swarm, one report; every other training job is one of the swarm's trained mixtures (natural, its best
    run, log-linear + exact's proposal of subset 0) with seeds 1 and 2, reading its analysis's
    trained.json."""
    cfg = write_config("config/test/olmix-design-tiny.yaml", tmp_path)
    proc = snakemake(tmp_path, cfg, "-n")
    counts = job_counts(proc.stdout)
    assert counts == {
        "all": 1,
        "tokenizer": 1,
        "pack": 3,
        "priors": 2,
        "fit": 2,
        "train": 6 + 8 + 2 * 3 * 2,
        "design_swarm": 2,
        "design_report": 1,
        "total": 38,
    }
    jobs = re.findall(r"wildcards: job=(\S+)", proc.stdout)
    swarm = [j for j in jobs if re.fullmatch(r"m[23]/pilots/swarm/seed0/run\d+", j)]
    trained = [j for j in jobs if re.fullmatch(r"design/m[23]/seed0/trained/row[012]/seed[12]", j)]
    assert len(swarm) == 14 and len(trained) == 12 and len(jobs) == 26
    assert re.search(r"input: .*/design/m2/seed0/trained\.json\n", proc.stdout)  # its mixtures' file
    assert "/runs/" not in proc.stdout and "table2" not in proc.stdout


def test_full_design_dag(tmp_path):
    """config/olmix-design.yaml: K_max = 8(m + 1) proxies for m = 2, 3, 5, 7 (168), one analysis each."""
    cfg = write_config("config/olmix-design.yaml", tmp_path)
    counts = job_counts(snakemake(tmp_path, cfg, "-n").stdout)
    # and per swarm 2 seeds x (natural, the best run, 3 pairs x 4 subsets' proposals): 112 trained mixtures
    assert counts["train"] == 24 + 32 + 48 + 64 + 4 * 2 * 14
    assert counts["design_swarm"] == 4 and counts["pack"] == 7
    assert counts["design_report"] == 1 and "select_pilot" not in counts


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"design.regressors": ["log_linear", "xgboost"]}, "design.regressors: unknown regressor 'xgboost'"),
        ({"design.proposers": ["exact", "annealing"]}, "design.proposers: unknown proposer 'annealing'"),
        ({"design.settings": ["m2", "m9"]}, "design.settings: unknown setting 'm9'"),
        (
            {"design.train_pairs": ["search+exact"]},
            "design.train_pairs: 'search+exact': proposer 'exact'",
        ),
        ({"design.train_subsets": 5}, "design.train_subsets: must not exceed subsets (3), got 5"),
        ({"methods.olmix.gp": {"n_restarts": -1}}, "methods.olmix.gp.n_restarts: must be >= 0, got -1"),
        ({"run": {"methods": ["stratified"]}}, "design: the design experiment is a config of its own"),
    ],
)
def test_bad_design_config_stops_the_dry_run(tmp_path, overrides, message):
    cfg = write_config("config/test/olmix-design-tiny.yaml", tmp_path, **overrides)
    proc = snakemake(tmp_path, cfg, "-n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_adding_a_seed_or_a_setting_leaves_each_swarms_analysis_as_it_was(tmp_path):
    """A swarm's analysis job is given its own setting and seed of the design block, so a second seed (or
    another setting) adds jobs and reruns none: m2 seed 0's command is the same in all three configs."""

    def command(name: str, **overrides) -> str:
        where = tmp_path / name
        where.mkdir()
        out = snakemake(
            where, write_config("config/test/olmix-design-tiny.yaml", where, **overrides), "-n", "-p"
        )
        [line] = [
            x
            for x in out.stdout.splitlines()
            if "-m pipeline_lib.olmix design " in x and "--setting m2 --seed 0 " in x
        ]
        return line.replace(str(where), "W")

    alone = command("alone", **{"design.settings": ["m2"]})
    assert '"seeds": [0]' in alone and '"settings": ["m2"]' in alone
    assert command("both") == alone and command("two_seeds", **{"design.seeds": [0, 3]}) == alone
