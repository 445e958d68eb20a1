"""Paired differences over seeds: the t-interval against a hand computation, and the one-seed case."""

from __future__ import annotations

import pytest

from pipeline_lib.report.stats import paired_diff


def test_t_interval_by_hand():
    # diffs -1, -2, -1.5, -2.5: mean -1.75, sd sqrt(1.25 / 3) = 0.645497, t(0.975, 3) = 3.182446
    d = paired_diff([-1.0, -2.0, -1.5, -2.5])
    assert d.mean == pytest.approx(-1.75) and d.n == 4
    assert d.half_width == pytest.approx(3.182446 * 0.645497 / 2, rel=1e-5)
    assert d.hi < 0 and d.verdict == "better" and d.label() == "−1.750 [−2.777, −0.723]*"


def test_unresolved_worse_and_single_seed():
    assert paired_diff([1.0, -1.0, 0.5]).verdict == "not resolved"
    assert paired_diff([1.0, 1.2, 0.9]).verdict == "worse"
    one = paired_diff([0.8])
    assert one.half_width is None and one.verdict == "1 seed" and one.label() == "+0.800, 1 seed: no interval"
    assert paired_diff([float("nan")]).verdict == "no pairs"
