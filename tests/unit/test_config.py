from __future__ import annotations

import copy

import pytest

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.data.sources import DataError, make_source
from pipeline_lib.methods import METHODS

BASE = {
    "data": {"source": {"path": "unused"}},
    "settings": {"pair": {"groups": ["alpha", "beta"], "static": {"alpha": 0.3, "beta": 0.7}}},
    "run": {"methods": ["stratified", "static"]},
}


def _load(mutate=None):
    cfg = copy.deepcopy(BASE)
    if mutate:
        mutate(cfg)
    return load_project(cfg, known_methods=set(METHODS))


def test_valid_config_builds_run_specs():
    project = _load()
    spec = project.run_spec("pair", "static", 3)
    assert spec.groups == ("alpha", "beta") and spec.seed == 3
    assert spec.method_params["proportions"] == [0.3, 0.7]
    assert project.tokenizer_groups == ["alpha", "beta"]


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda c: c["settings"]["pair"].update(static={"alpha": 1.0}), "exactly the setting's groups"),
        (lambda c: c["settings"]["pair"].update(static={"alpha": -0.2, "beta": 1.2}), "non-negative"),
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
    ],
)
def test_bad_config_names_the_field(mutate, message):
    with pytest.raises(ConfigError, match=message):
        _load(mutate)


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
            c.update(methods={"aioli": {"eta": 0.3}, "dml": {}}),
        )
    )
    assert project.restricted_settings == ("pair/restricted",)
    view = project.settings["pair/restricted"]
    assert view.restricted and view.base == "pair" and view.groups == ("alpha", "beta")
    # the 9 grid pilots share half a final run: 50 / 9 -> 6 steps, warm-up shortened in proportion
    pilot = project.pilot_spec("pair/restricted", 0, 0)
    assert pilot.train.steps == 6 and pilot.train.warmup_steps == 1
    assert project.pilot_spec("pair", 0, 0).train.steps == 100  # unrestricted: full-length pilots
    assert project.learning_train("pair/restricted", 2).steps == 25
    # only runs whose perplexity a table reports evaluate the test split: grid search's full-length pilots
    assert project.pilot_spec("pair", 0, 0).train.test_eval
    assert project.run_spec("pair", "dml", 0).train.test_eval
    assert not pilot.train.test_eval and not project.learning_train("pair", 1).test_eval
    assert not project.dynamic_child_spec("pair", 0, 0).train.test_eval
    assert project.methods_of("pair/restricted")[-1] == "aioli+doge"
    spec = project.run_spec("pair/restricted", "aioli+dml", 0)
    assert spec.train.steps == 100 and spec.method_params["prior_steps"] == 5
    assert spec.method_params["prior_method"] == "dml" and spec.method_params["eta"] == 0.3


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
