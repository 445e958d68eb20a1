from __future__ import annotations

import json

import pandas as pd

from pipeline_lib.report.figures import mixture_frame


def _run(tmp_path, name: str, rows: list[tuple[int, float]], steps: int = 100) -> str:
    d = tmp_path / name
    d.mkdir()
    pd.DataFrame([{"step": s, "a": p, "b": 1 - p} for s, p in rows]).to_csv(d / "mixture.csv", index=False)
    (d / "run.json").write_text(json.dumps({"method": name, "seed": 0, "steps": steps}))
    return str(d / "run.json")


def test_mixture_frame_holds_the_last_mixture_to_the_end_and_skips_static_runs(tmp_path):
    online = _run(tmp_path, "online", [(0, 0.5), (40, 0.7), (80, 0.6)])
    static = _run(tmp_path, "static", [(0, 0.3)])
    frame = mixture_frame([online, static])
    assert set(frame["method"]) == {"online"}
    a = frame[frame["group"] == "a"].sort_values("step")
    assert a["step"].tolist() == [0, 40, 80, 100] and a["p"].tolist() == [0.5, 0.7, 0.6, 0.6]
