from __future__ import annotations

import numpy as np
import pytest

from pipeline_lib.config import TrainConfig
from pipeline_lib.train.schedule import lr_at


def test_schedule_endpoints_and_shape():
    cfg = TrainConfig(steps=1000, warmup_steps=100, lr=5e-4, init_lr=1e-7, min_lr=1e-4)
    assert lr_at(0, cfg) == pytest.approx(1e-7)
    assert lr_at(50, cfg) == pytest.approx(1e-7 + (5e-4 - 1e-7) / 2)
    assert lr_at(100, cfg) == pytest.approx(5e-4)
    assert lr_at(550, cfg) == pytest.approx((5e-4 + 1e-4) / 2)  # cosine midpoint
    assert lr_at(1000, cfg) == pytest.approx(1e-4)
    assert lr_at(5000, cfg) == pytest.approx(1e-4)  # floor after the end
    lrs = np.array([lr_at(s, cfg) for s in range(1001)])
    assert np.all(np.diff(lrs[:101]) > 0) and np.all(np.diff(lrs[100:]) <= 1e-15)


def test_no_warmup_starts_at_peak():
    cfg = TrainConfig(steps=10, warmup_steps=0, lr=1e-3, min_lr=0.0)
    assert lr_at(0, cfg) == pytest.approx(1e-3)
    assert lr_at(10, cfg) == pytest.approx(0.0, abs=1e-12)
