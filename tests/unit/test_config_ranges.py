"""One validation layer for method parameters: every registered method has a typed config, every numeric
field of it declares a range, and the loader reports each bad value once, with its field path."""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from pathlib import Path

import pytest
import yaml

from pipeline_lib.config import ConfigError, PilotConfig, load_project
from pipeline_lib.config.methods import MethodConfig
from pipeline_lib.config.ranges import RANGE, Range, instance_range_problems
from pipeline_lib.config.registry import METHODS, PROXIES, build_method_config, method_entry

REGISTERED = [*METHODS, *PROXIES, "aioli+dml"]


def _config_classes() -> dict[type, str]:
    """Each config class of the registry, with the first method name that uses it."""
    out: dict[type, str] = {}
    for name in REGISTERED:
        out.setdefault(method_entry(name).config, name)
    return out


def _number_kind(hint: typing.Any) -> str | None:
    """'scalar', 'tuple' or 'dict' when a field's type holds numbers (int or float, not bool), else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = {_number_kind(h) for h in typing.get_args(hint)} - {None}
        return kinds.pop() if kinds else None
    if hint in (int, float):
        return "scalar"
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[0] in (int, float):
        return "tuple"
    if typing.get_origin(hint) is dict and typing.get_args(hint)[1] in (int, float):
        return "dict"
    return None


def _numeric_fields() -> list[tuple[str, str, str]]:
    """(method, field, kind) for every numeric field of every registered config class."""
    out = []
    for cls, name in _config_classes().items():
        hints = typing.get_type_hints(cls)
        out += [(name, f.name, k) for f in dataclasses.fields(cls) if (k := _number_kind(hints[f.name]))]
    return out


def _outside(rng: Range) -> list[float]:
    """Values just past each bound of a range (an integer bound gives integers)."""
    out = [b for b in (rng.gt, rng.lt) if b is not None]
    out += [rng.gt - 1] if rng.gt is not None else []
    out += [rng.ge - 1] if rng.ge is not None else []
    return out + ([rng.le + 1] if rng.le is not None else [])


def _as_field(kind: str, v: float) -> typing.Any:
    return {"scalar": v, "tuple": [v], "dict": {"g": v}}[kind]


def test_every_registered_method_has_a_typed_config():
    assert {"aioli", "skillit", "doremi", "doge", "olmix", "olmix_pilots"} <= set(METHODS)
    for name in REGISTERED:
        cls = method_entry(name).config
        assert dataclasses.is_dataclass(cls) and issubclass(cls, MethodConfig), name
        assert isinstance(build_method_config(name, {} if "+" not in name else _plus(), "x"), cls)


def _plus() -> dict[str, typing.Any]:
    return {"aioli": {}, "prior_method": "dml"}


def test_the_introspection_sees_the_numeric_fields():
    found = {(m, f) for m, f, _ in _numeric_fields()}
    assert {("aioli", "eta"), ("aioli", "ema"), ("aioli", "prior"), ("olmix", "natural")} <= found
    assert ("olmix_proxy", "index") in found and ("static", "proportions") in found
    assert not {f for _, f, _ in _numeric_fields()} & {"normalize", "diagonal", "proxy_model", "tasks"}


@pytest.mark.parametrize("method,name,kind", _numeric_fields(), ids=lambda v: str(v))
def test_every_numeric_field_declares_a_range_that_rejects_values_outside_it(method, name, kind):
    cls = method_entry(method).config
    rng = next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get(RANGE)
    assert isinstance(rng, Range), f"{cls.__name__}.{name} declares no range: use ranged(default, ...)"
    is_int = typing.get_type_hints(cls)[name] in (int, int | None)
    base = _plus() if "+" in method else {}
    path = f"methods.{method}.{name}" + {"scalar": "", "tuple": "[0]", "dict": ".g"}[kind]
    bad = _outside(rng) + ([] if is_int else [math.inf, math.nan])
    assert bad
    for value in bad:
        with pytest.raises(ConfigError) as err:
            build_method_config(method, {**base, name: _as_field(kind, value)}, f"methods.{method}")
        assert f"{path}: must be " in str(err.value) and f", got {value!r}" in str(err.value)
    for bound in (b for b in (rng.ge, rng.le) if b is not None):  # a closed bound is inside the range
        try:
            build_method_config(method, {**base, name: _as_field(kind, bound)}, f"methods.{method}")
        except ConfigError as err:  # a cross-field rule may still object (Olmix's natural: a positive sum)
            assert f"{path}: must be " not in str(err)


@pytest.mark.parametrize(
    "rng,text",
    [(Range(gt=0), "> 0"), (Range(ge=1), ">= 1"), (Range(gt=0, le=1), "in (0, 1]"),
     (Range(ge=0, lt=1), "in [0, 1)"), (Range(le=0.5), "<= 0.5")],
)  # fmt: skip
def test_range_text(rng, text):
    assert str(rng) == text


def test_range_problem_messages():
    assert Range(gt=0).problem(0) == "must be > 0, got 0"
    assert Range(gt=0).problem(math.inf) == "must be a finite number > 0, got inf"
    assert Range(ge=0, lt=1).problem(0) is None and Range(ge=0, lt=1).problem(1) == "must be in [0, 1), got 1"
    with pytest.raises(TypeError):
        Range(gt=0, ge=0)
    with pytest.raises(TypeError):
        Range()


def test_range_problems_name_entries_of_tuples_and_dicts():
    cfg = dataclasses.replace(method_entry("olmix").config(), natural={"a": 1.0})
    assert instance_range_problems(cfg) == []
    with pytest.raises(ConfigError, match=r"natural\.b: must be >= 0, got -1"):
        dataclasses.replace(cfg, natural={"a": 1.0, "b": -1})
    with pytest.raises(ConfigError, match=r"prior\[1\]: must be >= 0, got -0\.5"):
        method_entry("aioli").config(prior=(1.5, -0.5))


def test_entries_of_tuple_and_dict_parameters_are_type_checked():
    """A wrong entry type is named as a type problem, before any range check compares it."""
    with pytest.raises(
        ConfigError, match=r"methods\.olmix\.natural: must be dict\[str, float\] \| None, got"
    ):
        build_method_config("olmix", {"natural": {"a": "x"}}, "methods.olmix")
    with pytest.raises(ConfigError, match=r"methods\.aioli\.prior: must be tuple\[float, \.\.\.\] \| None"):
        build_method_config("aioli", {"prior": [0.5, "x"]}, "methods.aioli")
    assert build_method_config("aioli", {"prior": [0.5, 0.5]}, "methods.aioli").prior == (0.5, 0.5)


def test_pilot_ranges_name_the_field():
    with pytest.raises(ConfigError, match=r"pilots\.break_fraction: must be in \(0, 1\), got 1"):
        PilotConfig(break_fraction=1)
    with pytest.raises(ConfigError, match=r"pilots\.n_mixtures: must be >= 2, got 1"):
        PilotConfig(n_mixtures=1)
    assert PilotConfig(n_mixtures=None).size(3) == 9


# -- through the loader ---------------------------------------------------------------------------------
BASE = {
    "data": {"source": {"path": "unused"}},
    "train": {"steps": 120, "eval_every": 20, "warmup_steps": 10},
    "settings": {"pair": {"groups": ["alpha", "beta"]}, "tri": {"groups": ["alpha", "beta", "gamma"]}},
    "run": {"methods": ["stratified", "aioli"]},
    "methods": {"aioli": {"update_steps": 60}},
}


def _load_error(mutate) -> str:
    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    with pytest.raises(ConfigError) as err:
        load_project(cfg)
    return str(err.value)


@pytest.mark.parametrize("eta", [0, -0.5])
def test_non_positive_eta_names_its_path_once(eta):
    out = _load_error(lambda c: c["methods"]["aioli"].update(eta=eta))
    assert out.count(f"methods.aioli.eta: must be > 0, got {eta}") == 1, out  # two settings, one message


def test_a_value_is_named_by_the_block_that_set_it():
    def mutate(c):
        c["methods"]["aioli"]["eta"] = 0
        c["settings"]["pair"]["methods"] = {"aioli": {"ema": 1.0, "lp_rounds": 2}}

    out = _load_error(mutate)
    assert out.count("\n  - methods.aioli.eta: must be > 0, got 0\n") == 1, out  # one line, once
    assert "\n  - settings.pair.methods.aioli.ema: must be in [0, 1), got 1.0" in out
    assert "settings.pair.methods.aioli.eta" not in out


def test_a_bad_value_every_setting_overrides_still_stops_the_load():
    def mutate(c):
        c["methods"]["aioli"]["eta"] = 0
        for s in c["settings"].values():
            s["methods"] = {"aioli": {"eta": 0.5}}

    assert "methods.aioli.eta: must be > 0, got 0" in _load_error(mutate)


def test_extends_carries_the_origin_of_each_value():
    def mutate(c):
        c["methods"]["doge"] = {"mu": -1.0}
        c["methods"]["doge_big"] = {"extends": "doge", "val_batch_size": 0}

    out = _load_error(mutate)
    assert "methods.doge.mu: must be > 0, got -1.0" in out and "methods: unknown method 'doge_big'" in out


def test_blocks_of_methods_no_run_uses_are_checked():
    out = _load_error(lambda c: c["methods"].update(doremi={"mu": 0, "smoothin": 1}))
    assert "methods.doremi: unknown parameter(s) ['smoothin']" in out
    out = _load_error(lambda c: c["settings"]["tri"].update(methods={"olmix": {"kl_weight": -0.1}}))
    assert "settings.tri.methods.olmix.kl_weight: must be >= 0, got -0.1" in out
    out = _load_error(lambda c: c["methods"].update(olmix={"min_strength": 2.0, "max_strength": 1.0}))
    assert "methods.olmix.min_strength: must not exceed max_strength (1.0), got 2.0" in out


def test_extends_cycle_is_reported():
    def mutate(c):
        c["methods"]["skillit"] = {"extends": "doge"}
        c["methods"]["doge"] = {"extends": "skillit"}

    assert "extends: 'skillit' extends 'doge' in turn" in _load_error(mutate)


def test_aioli_prior_is_a_mixture_of_the_setting():
    out = _load_error(lambda c: c["methods"]["aioli"].update(prior=[0.5, 0.3], prior_steps=10))
    assert "methods.aioli: prior sums to 0.8; a mixture sums to 1 (setting 'pair')" in out
    assert "methods.aioli: prior has 2 weights for 3 groups" in out


def test_olmix_tasks_must_not_be_empty():
    assert "methods.olmix.tasks: must name at least one group" in _load_error(
        lambda c: c["methods"].update(olmix={"tasks": []})
    )


# -- the schema keeps the structure -----------------------------------------------------------------------
SCHEMA = Path(__file__).resolve().parents[2] / "config" / "config.schema.yaml"


def test_the_schema_leaves_method_parameters_to_the_typed_configs():
    schema = yaml.safe_load(SCHEMA.read_text())
    setting_methods = schema["properties"]["settings"]["additionalProperties"]["properties"]["methods"]
    for block in (schema["properties"]["methods"], setting_methods):
        assert block["type"] == "object" and block["additionalProperties"] == {"type": "object"}
        assert "properties" not in block
    assert not set(schema["$defs"]) & set(METHODS)


def test_the_schema_and_the_model_agree_on_presets():
    """model.preset: the schema refused nano and pythia-14m, which ModelConfig (and Olmix's proxies) take."""
    from snakemake.utils import validate

    cfg = copy.deepcopy(BASE)
    cfg["model"] = {"preset": "nano"}
    validate(cfg, str(SCHEMA))
    assert load_project(cfg).settings["pair"].model.n_layer == 1
    cfg["model"] = {"preset": "huge"}
    validate(cfg, str(SCHEMA))
    with pytest.raises(ConfigError, match=r"model\.preset 'huge' is unknown; choose one of \['nano'"):
        load_project(cfg)
