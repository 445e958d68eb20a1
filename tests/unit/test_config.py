from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.config.load import repeated_seeds
from pipeline_lib.config.yamlfile import check_yaml_file
from pipeline_lib.data.sources import DataError, make_source
from pipeline_lib.plan import Planner

BASE = {
    "data": {"source": {"path": "unused"}},
    "settings": {"pair": {"groups": ["alpha", "beta"], "static": {"alpha": 0.3, "beta": 0.7}}},
    "run": {"methods": ["stratified", "static"]},
}


def _load(mutate=None):
    cfg = copy.deepcopy(BASE)
    if mutate:
        mutate(cfg)
    return load_project(cfg)


def test_valid_config_builds_run_specs():
    project = _load()
    spec = Planner(project).run_spec("pair", "static", 3)
    assert spec.groups == ("alpha", "beta") and spec.seed == 3
    assert spec.method_params["proportions"] == (0.3, 0.7)
    assert project.tokenizer_groups == ["alpha", "beta"]


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c["settings"]["pair"].update(static={"alpha": 1.0}), "exactly the setting's groups"),
        (
            lambda c: c["settings"]["pair"].update(static={"alpha": -0.2, "beta": 1.2}),
            r"settings\.pair\.static\.alpha: must be >= 0, got -0\.2",
        ),
        (lambda c: c["settings"]["pair"].update(static={"alpha": 0.5, "beta": 0.6}), "sum to 1"),
        (lambda c: c["run"].update(methods=["stratified", "nope"]), "unknown method 'nope'"),
        (lambda c: c["run"].update(settings=["missing"]), "unknown setting 'missing'"),
        (lambda c: c["settings"]["pair"].update(groups=["alpha"]), "at least two distinct groups"),
        (lambda c: c.update(train={"warmup_steps": 500, "steps": 100}), "warmup_steps"),
        (lambda c: c.update(model={"preset": "huge"}), "preset 'huge'"),
        (lambda c: c["settings"]["pair"].pop("static"), "no 'static' proportions"),
        (lambda c: c.update(pilots={"child_steps": 0}), "pilots.child_steps"),
        (
            lambda c: (
                c["settings"].update(tri={"groups": ["a", "b", "c"]}),
                c["run"].update(methods=["dml"], settings=["tri"]),
                c.update(pilots={"n_mixtures": 3}),
            ),
            "at least m \\+ 1 = 4 pilot runs",
        ),
        (
            lambda c: c["data"].update(tokenizer={"kind": "file", "path": "/nowhere/missing.json"}),
            "data.tokenizer.path: file '/nowhere/missing.json' does not exist",
        ),
        (
            lambda c: c["data"].update(tokenizer={"kind": "file"}),
            "data.tokenizer.path: required with data.tokenizer.kind 'file'; set it to a tokenizer.json",
        ),
        (
            lambda c: c["data"].update(tokenizer={"kind": "hub", "name": None}),
            "data.tokenizer.name: required with data.tokenizer.kind 'hub'; set it to a Hugging Face hub",
        ),
    ],
)
def test_bad_config_names_the_field(mutate, message):
    with pytest.raises(ConfigError, match=message):
        _load(mutate)


def test_tokenizer_file_that_exists_passes(tmp_path):
    (tmp_path / "tok.json").write_text("{}")
    project = _load(
        lambda c: c["data"].update(tokenizer={"kind": "file", "path": str(tmp_path / "tok.json")})
    )
    assert project.data.tokenizer.path == str(tmp_path / "tok.json")


@pytest.mark.parametrize(
    "text,where",
    [
        ("train:\n  steps: 3\n   lr: 2\n", ":3:6: not valid YAML: mapping values are not allowed here"),
        ("data:\n\tsource: {}\n", ":2:1: not valid YAML: found character '\\t' that cannot start any token"),
        ("settings: {as: [a, b}\n", ":1:21: not valid YAML: "),
    ],
    ids=["indent", "tab", "bracket"],
)
def test_malformed_yaml_names_the_file_line_and_column(tmp_path, text, where):
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'config.yaml'}{where}")):
        check_yaml_file(tmp_path / "config.yaml")
    check_yaml_file(tmp_path / "absent.yaml")  # a missing file is Snakemake's to report


@pytest.mark.parametrize(
    "text,key,lines",
    [
        ("train:\n  steps: 3\nmodel: {context: 8}\ntrain:\n  steps: 4\n", "train", (1, 4)),
        (
            "data:\n  split:\n    val_fraction: 0.1\n    val_fraction: 0.2\n",
            "data.split.val_fraction",
            (3, 4),
        ),
        ("settings:\n  pair: {groups: [a, b], groups: [c]}\n", "settings.pair.groups", (2, 2)),
    ],
    ids=["top", "nested", "flow"],
)
def test_duplicate_yaml_keys_name_the_file_key_and_both_lines(tmp_path, text, key, lines):
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        check_yaml_file(tmp_path / "config.yaml")
    assert str(err.value) == (
        f"{tmp_path / 'config.yaml'}:{lines[1]}: key '{key}' is given twice "
        f"(lines {lines[0]} and {lines[1]}); "
        "YAML would keep only the last one and drop the first without a word: keep one (merge the two)"
    )


def test_yaml_merge_keys_and_repeated_values_are_not_duplicates(tmp_path):
    text = "base: &b {steps: 3}\ntrain:\n  <<: *b\n  steps: 4\nrun: {seeds: [0, 1]}\n"
    (tmp_path / "config.yaml").write_text(text)
    check_yaml_file(tmp_path / "config.yaml")


@pytest.mark.parametrize("evaluated", [False, True])
def test_yte_templating_is_refused(tmp_path, evaluated):
    (tmp_path / "config.yaml").write_text("results_dir: out\n__use_yte__: true\n")
    with pytest.raises(ConfigError) as err:
        check_yaml_file(tmp_path / "config.yaml", evaluated=evaluated)
    message = str(err.value)
    assert message.startswith(
        f"{tmp_path / 'config.yaml'}:2: __use_yte__ turns on Snakemake's YTE templating, which evaluates "
        "Python expressions written in the file (it would run code)"
    )
    assert ("has already evaluated" in message) == evaluated


def test_all_problems_reported_at_once():
    def both(c):
        c["run"]["methods"] = ["nope"]
        c["settings"]["pair"]["static"] = {"alpha": 0.9, "beta": 0.9}

    with pytest.raises(ConfigError) as err:
        _load(both)
    assert "unknown method" in str(err.value) and "sum to 1" in str(err.value)


def test_missing_corpus_file_and_empty_group(corpus_dir, tmp_path):
    project = _load(lambda c: c["data"]["source"].update(path=str(corpus_dir)))
    source = make_source(project.data)
    source.check_group("alpha")
    with pytest.raises(DataError, match=r"delta.jsonl.gz does not exist.*alpha.jsonl.gz"):
        source.check_group("delta")
    (tmp_path / "empty.jsonl.gz").write_bytes(__import__("gzip").compress(b""))
    empty = make_source(_load(lambda c: c["data"]["source"].update(path=str(tmp_path))).data)
    with pytest.raises(DataError, match="no documents"):
        empty.check_group("empty")


def test_restricted_view_shortens_learning_runs_and_builds_aioli_plus_x():
    project = _load(
        lambda c: (
            c.update(train={"steps": 100, "warmup_steps": 10}),
            c.update(restricted={"settings": ["pair"], "learn_fraction": 0.5, "prior_fraction": 0.05}),
            c.update(methods={"aioli": {"eta": 0.3}, "dml": {}, "skillit": {"update_steps": 50}}),
            c["run"].update(methods=["stratified", "dml"], law_fidelity=True),
        )
    )
    assert project.restricted_settings == ("pair/restricted",)
    view = project.settings["pair/restricted"]
    assert view.restricted and view.name == "pair" and view.groups == ("alpha", "beta")
    plan = Planner(project)
    jobs = plan.train_jobs
    # the 9 grid pilots share half a final run: 50 / 9 -> 6 steps, warm-up shortened in proportion
    pilot = jobs["pair/restricted/pilots/grid/seed0/mix0"].spec
    assert pilot.train.steps == 6 and pilot.train.warmup_steps == 1
    assert jobs["pair/pilots/grid/seed0/mix0"].spec.train.steps == 100  # unrestricted: full-length pilots
    assert plan.learning_train("pair/restricted", 2).steps == 25
    # only runs whose perplexity a table reports evaluate the test split: grid search's full-length pilots
    assert jobs["pair/pilots/grid/seed0/mix0"].spec.train.test_eval
    assert jobs["pair/runs/dml/seed0"].spec.train.test_eval
    assert not pilot.train.test_eval and not plan.learning_train("pair", 1).test_eval
    child = jobs["pair/pilots/dynamic/seed0/child0"]
    assert not child.spec.train.test_eval and child.init_from == "pair/pilots/dynamic/seed0/parent"
    assert child.args("R") == "--init-state R/pair/pilots/dynamic/seed0/parent/state.pt --until 60"
    assert jobs["pair/restricted/pilots/doremi/seed0"].reference == "pair/restricted/pilots/reference/seed0"
    assert jobs["pair/restricted/runs/aioli+dml/seed0"].fit == "pair/restricted/fits/dml/seed0.json"
    assert project.methods_of("pair/restricted")[-1] == "aioli+doge"
    spec = plan.run_spec("pair/restricted", "aioli+dml", 0)
    assert spec.setting == "pair/restricted" and spec.train.steps == 100
    assert spec.method_params["aioli"]["prior_steps"] == 5
    assert spec.method_params["prior_method"] == "dml" and spec.method_params["aioli"]["eta"] == 0.3


@pytest.mark.parametrize(
    "restricted,message",
    [
        ({"settings": ["nope"]}, "restricted.settings: unknown setting 'nope'"),
        ({"settings": ["pair"], "methods": ["aioli"]}, "learn no proportions"),
        ({"settings": ["pair"], "learn_fraction": 0}, "learn_fraction"),
    ],
)
def test_bad_restricted_config(restricted, message):
    with pytest.raises(ConfigError, match=message):
        _load(lambda c: c.update(restricted=restricted))


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda c: c["methods"].update(aioli={"etaa": 1}),
            r"methods\.aioli: unknown parameter\(s\) \['etaa'\]",
        ),
        (
            lambda c: c["settings"]["pair"].update(methods={"aiolii": {"eta": 1}}),
            r"settings\.pair\.methods: unknown method\(s\) \['aiolii'\]",
        ),
        (
            lambda c: c["methods"].update(aioli={"eta": "fast"}),
            r"methods\.aioli\.eta: must be float, got 'fast'",
        ),
        (lambda c: c["methods"].update(alchemy={}), "methods: unknown method 'alchemy'"),
        # cross-field: Skill-It re-mixes after an evaluation; LearnParams must leave a round room to train
        (
            lambda c: c["methods"].update(skillit={"update_steps": 30}),
            r"methods\.skillit: update_steps \(30\) must be a positive multiple of train\.eval_every \(20\)",
        ),
        (
            lambda c: c["settings"]["pair"].update(methods={"aioli": {"lp_rounds": 3, "lp_steps": 5}}),
            r"settings\.pair\.methods\.aioli: LearnParams takes .* = 30 steps, not fewer than a round \(30",
        ),
        (
            lambda c: c["methods"].update(aioli={"one_hot_factor": 0.5}),
            r"methods\.aioli: one_hot_factor = 0\.5 is not above 1/m",
        ),
        (
            lambda c: (
                c.update(train={"batch_size": 5}),
                c["methods"].update(doremi={"reference_microbatch": True}),
            ),
            r"methods\.doremi: reference_microbatch halves the batch",
        ),
        (
            lambda c: c["methods"].update(olmix={"proxy_model": "huge", "swarm_factor": 0}),
            r"methods\.olmix\.swarm_factor: must be > 0, got 0\n  - methods\.olmix\.proxy_model: 'huge' is "
            "not a model preset",
        ),
    ],
)
def test_method_settings_are_typed_and_checked_against_the_setting(mutate, message):
    def base(c):
        c.update(train={"steps": 120, "eval_every": 20, "warmup_steps": 10})
        c["run"]["methods"] = ["stratified", "aioli", "skillit", "doremi", "olmix"]
        c["methods"] = {"aioli": {"update_steps": 30}, "skillit": {"update_steps": 40}}
        mutate(c)

    with pytest.raises(ConfigError, match=message):
        _load(base)


def test_registry_names_every_method_the_docs_list():
    from pipeline_lib.config import METHODS
    from pipeline_lib.methods import policy_class

    readme = (Path(__file__).resolve().parents[2] / "docs" / "methods.md").read_text()
    table = readme.split("| method (`run.methods`)", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines()[2:]]
    listed = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert {"stratified", "aioli_static", "aioli_diagonal", "doge"} <= listed
    assert listed and listed <= set(METHODS), sorted(listed - set(METHODS))
    for name in [*METHODS, "doremi_proxy", "doge_proxy", "olmix_proxy", "aioli+dml"]:
        assert callable(policy_class(name).start)


def test_loading_the_config_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, yaml; from pipeline_lib.config import load_project; "
    code += "from pipeline_lib.plan import Planner; "
    code += (
        "Planner(load_project(yaml.safe_load(open('config.yaml')))).train_jobs; print('torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tensorboard_without_its_package_stops_the_load(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "tensorboard" else real(name)
    )
    message = r"train.trackers: tensorboard is on .* pip install -e \".\[tracking\]\""
    with pytest.raises(ConfigError, match=message):
        _load(lambda c: c.update(train={"tensorboard": True}))


def test_execution_settings_are_no_part_of_a_specs_identity():
    """Fields marked as execution leave the spec's identity (Snakemake's params, run.json's config hash), come
    back from the execution settings; changing one leaves the identity as it was, an identity field not."""
    import dataclasses

    from pipeline_lib.config import RunSpec, TrainConfig
    from pipeline_lib.model.config import ModelConfig

    spec = RunSpec("s", ("a", "b"), "stratified", {}, 0, ModelConfig(), TrainConfig())
    marked = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("execution")}
    assert {"device", "compile", "checkpoint_every", "tensorboard", "sync_every"} <= marked
    assert not marked & set(spec.identity()["train"]) and "lr" in spec.identity()["train"]
    fast = dataclasses.replace(spec, train=dataclasses.replace(spec.train, checkpoint_every=7, compile=True))
    assert fast.identity() == spec.identity() and fast.execution()["checkpoint_every"] == 7
    assert RunSpec.from_dict(fast.identity(), fast.execution()) == fast
    assert RunSpec.from_dict(fast.to_dict()) == fast  # a whole spec needs nothing else
    slower = dataclasses.replace(spec, train=dataclasses.replace(spec.train, lr=1e-3))
    assert slower.identity() != spec.identity()


def test_olmix_natural_must_weigh_every_group_it_mixes():
    def partial_natural(cfg):
        cfg["run"]["methods"] = ["stratified", "olmix"]
        cfg["methods"] = {"olmix": {"natural": {"alpha": 1.0}}}

    with pytest.raises(ConfigError, match=r"natural has no weight for \['beta'\] \(setting 'pair'\)"):
        _load(partial_natural)


def test_a_seed_listed_twice_is_refused():
    with pytest.raises(ConfigError) as err:
        _load(lambda c: c["run"].update(seeds=[0, 1, 0]))
    assert "run.seeds: seed 0 is listed twice; list each seed once" in str(err.value)


def test_a_reuse_seed_listed_twice_is_refused():
    assert repeated_seeds("reuse.seeds", (2, 2, 2, 1)) == [
        "reuse.seeds: seed 2 is listed 3 times; list each seed once"
    ]


@pytest.mark.parametrize(
    "pattern,message",
    [
        ("{grp}.jsonl.gz", "'{grp}.jsonl.gz' names {grp}; it must name the group as {group} and nothing"),
        ("{group}-{split}.jsonl", "'{group}-{split}.jsonl' names {group}, {split}; it must name the group"),
        ("corpus.jsonl.gz", "'corpus.jsonl.gz' names no field; it must name the group as {group}"),
        ("{group", "'{group' is not a valid pattern"),
        ("../{group}.jsonl.gz", "'../{group}.jsonl.gz' leads out of data.source.path"),
        ("/etc/{group}", "'/etc/{group}' leads out of data.source.path"),
    ],
)
def test_a_bad_file_pattern_stops_the_load_naming_the_field(pattern, message):
    with pytest.raises(ConfigError, match=f"data.source.file_pattern: {re.escape(message)}"):
        _load(lambda c: c["data"]["source"].update(file_pattern=pattern))
    _load(lambda c: c["data"]["source"].update(file_pattern="{group}/part.jsonl"))  # a subfolder is fine


@pytest.mark.parametrize("results", ["inj$(touch x)", "$SCRATCH/results", "out`id`"])
def test_a_results_dir_a_shell_would_have_expanded_is_refused(tmp_path, results):
    from pipeline_lib.config.names import results_dir_problems

    [problem] = results_dir_problems(results, tmp_path)
    assert problem.startswith(f"results_dir: '{results}' holds ") and "write the path out" in problem
    assert not results_dir_problems("results dir's", tmp_path)  # a space and a quote are quoted, not refused


def test_a_setting_that_fails_to_build_is_reported_once_not_also_as_unknown():
    """warmup_steps > steps: the setting's own error, and no false 'unknown setting' line for run.settings
    or restricted.settings naming it."""

    def mutate(c):
        c.update(train={"warmup_steps": 20, "steps": 8}, restricted={"settings": ["pair"]})
        c["run"]["settings"] = ["pair"]

    with pytest.raises(ConfigError) as err:
        _load(mutate)
    assert str(err.value) == (
        "invalid configuration:\n  - settings.pair: train.warmup_steps must be in [0, train.steps=8]"
    )
    unknown = re.escape("run.settings: unknown setting 'nope'; defined: ['pair']")
    with pytest.raises(ConfigError, match=unknown):
        _load(lambda c: c["run"].update(settings=["nope"]))
