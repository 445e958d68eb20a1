"""The swarm samplers: RegMix's draw (deterministic, on the simplex, within its concentrations and bound),
the sampler chosen by name, and the config field that names it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline_lib.config.methods import OlmixConfig, build_config
from pipeline_lib.config.types import ConfigError
from pipeline_lib.config.units import RegMixSamplingSettings
from pipeline_lib.lmo.swarm import SwarmSettings, draw_swarm, regmix_strengths, regmix_swarm

NATURAL = np.array([0.45, 0.3, 0.15, 0.07, 0.03])
TOKENS = NATURAL * 1e6


def test_regmix_draw_is_deterministic_with_a_seed():
    s = RegMixSamplingSettings()
    a, b = regmix_swarm(NATURAL, 24, 3, s), regmix_swarm(NATURAL, 24, 3, s)
    assert np.array_equal(a.mixtures, b.mixtures) and a.details == b.details
    assert not np.array_equal(a.mixtures, regmix_swarm(NATURAL, 24, 4, s).mixtures)


def test_regmix_draw_is_on_the_simplex_distinct_and_within_the_bound():
    s = RegMixSamplingSettings(maximum_usage=3.0, minimum_weight=0.01)
    P = regmix_swarm(NATURAL, 30, 0, s).mixtures
    assert P.shape == (30, 5) and P.min() >= 0 and np.allclose(P.sum(axis=1), 1)
    assert len({tuple(np.round(row, 9)) for row in P}) == 30  # no duplicates
    bound = np.minimum(3.0 * NATURAL, 1.0)
    # the bound is checked before the zeroing and rounding, which move a weight by at most m x the grid
    assert np.all(P - bound <= 5 * 0.01)
    nonzero = P[P > 0]
    assert nonzero.min() >= 0.01 / 1.05  # below minimum_weight: zeroed (renormalising moves it by <5%)


def test_regmix_draw_respects_the_concentration_range():
    s = RegMixSamplingSettings(min_strength=0.2, max_strength=4.0, n_strengths=5)
    drawn = regmix_swarm(NATURAL, 40, 1, s)
    used = np.array(drawn.details["strengths"])
    grid = regmix_strengths(s)
    assert used.shape == (40,) and np.all((used >= 0.2 - 1e-12) & (used <= 4.0 + 1e-12))
    assert np.all(np.isclose(used[:, None], grid[None, :]).any(axis=1))  # each one of the grid's
    assert len(set(used.tolist())) > 1  # varied per sample


def test_regmix_concentration_sets_the_spread_around_the_tempered_prior():
    tempered = NATURAL**0.5 / (NATURAL**0.5).sum()
    tight = RegMixSamplingSettings(min_strength=2000.0, max_strength=2000.0, minimum_weight=1e-3)
    loose = RegMixSamplingSettings(min_strength=0.1, max_strength=0.1, minimum_weight=1e-3)
    near = regmix_swarm(NATURAL, 20, 0, tight).mixtures
    far = regmix_swarm(NATURAL, 20, 0, loose).mixtures
    assert np.abs(near - tempered).max() < 0.06  # concentrated at the tempered prior (not the natural)
    assert np.abs(near.mean(axis=0) - tempered).max() < np.abs(near.mean(axis=0) - NATURAL).max()
    assert (far == 0).mean() > 0.4 and (near == 0).mean() == 0  # a low concentration: sparse mixtures


def test_regmix_draw_names_the_fix_when_too_few_mixtures_pass():
    with pytest.raises(ValueError, match="sample_multiplier or maximum_usage"):
        regmix_swarm(NATURAL, 50, 0, RegMixSamplingSettings(minimum_weight=0.4, sample_multiplier=2))
    with pytest.raises(ValueError, match=r"raise methods\.<m>\.regmix_sampling\.maximum_usage"):
        regmix_swarm(NATURAL, 5, 0, RegMixSamplingSettings(maximum_usage=0.9))


def test_draw_swarm_picks_the_sampler_by_name():
    olmix = draw_swarm("olmix", NATURAL, TOKENS, 10_000, 8, 0, SwarmSettings())
    regmix = draw_swarm("regmix", NATURAL, TOKENS, 10_000, 8, 0, RegMixSamplingSettings())
    assert olmix.details == {} and "strengths" in regmix.details
    assert not np.array_equal(olmix.mixtures, regmix.mixtures)
    with pytest.raises(ValueError, match="unknown sampling 'sobol'"):
        draw_swarm("sobol", NATURAL, TOKENS, 10_000, 8, 0, SwarmSettings())


def test_sampling_is_a_checked_config_field_that_keys_the_swarm():
    base = OlmixConfig()
    assert base.swarm_dict() == {  # Olmix's sampling: the draw's --config as before samplings were named
        "swarm_factor": 3.0,
        "min_strength": 0.1,
        "max_strength": 5.0,
        "minimum_weight": 0.002,
        "swarm_repetitions": 4.0,
    }
    assert "sampling" not in base.to_dict() and "regmix_sampling" not in base.to_dict()
    own = build_config(OlmixConfig, {"sampling": "regmix", "regmix_sampling": {"temperature": 0.7}}, "m")
    drawn_by = own.swarm_dict()
    assert drawn_by["sampling"] == "regmix" and drawn_by["regmix_sampling"]["temperature"] == 0.7
    assert own.proxy_dict() != base.proxy_dict() and own.to_dict()["sampling"] == "regmix"
    with pytest.raises(
        ConfigError, match=r"methods\.regmix\.sampling: must be one of olmix, regmix, got 'sobol'"
    ):
        build_config(OlmixConfig, {"sampling": "sobol"}, "methods.regmix")
    with pytest.raises(ConfigError, match=r"methods.regmix.regmix_sampling.min_strength: must not exceed"):
        build_config(OlmixConfig, {"regmix_sampling": {"min_strength": 9.0}}, "methods.regmix")
    assert dataclasses.replace(own, sampling="olmix").swarm_dict() == base.swarm_dict()


def test_the_swarm_step_draws_by_the_configured_sampling(tmp_path):
    import json

    from pipeline_lib.olmix.__main__ import main
    from pipeline_lib.olmix.swarmio import Priors
    from pipeline_lib.records import SwarmFile

    priors = tmp_path / "priors.json"
    priors.write_text(json.dumps(Priors.from_tokens(dict(zip("abcde", TOKENS, strict=True))).to_dict()))
    out = {}
    for sampling in ("olmix", "regmix"):
        cfg = build_config(OlmixConfig, {"sampling": sampling}, "m").swarm_dict()
        path = tmp_path / f"{sampling}.json"
        args = ["swarm", "--priors", str(priors), "--proxy-tokens", "20000", "--seed", "0"]
        main([*args, "--config", json.dumps(cfg), "--out", str(path)])
        out[sampling] = SwarmFile.read(path)
    expected = draw_swarm("regmix", NATURAL, TOKENS, 20_000, 18, 0, RegMixSamplingSettings())
    assert np.allclose(out["regmix"].mixtures, expected.mixtures)
    assert out["regmix"].details["sampling"] == "regmix" and len(out["regmix"].details["strengths"]) == 18
    assert "sampling" not in out["olmix"].details and len(out["olmix"].mixtures) == 18  # K = 3 (5 + 1)
