from __future__ import annotations

import pandas as pd

from pipeline_lib.report.figures import mixture_frame
from tests.records import write_run


def _run(tmp_path, name: str, rows: list[tuple[int, float]], steps: int = 100) -> str:
    d = tmp_path / name
    d.mkdir()
    pd.DataFrame([{"step": s, "a": p, "b": 1 - p} for s, p in rows]).to_csv(d / "mixture.csv", index=False)
    return write_run(d / "run.json", method=name, seed=0, steps=steps)


def test_mixture_frame_holds_the_last_mixture_to_the_end_and_skips_static_runs(tmp_path):
    online = _run(tmp_path, "online", [(0, 0.5), (40, 0.7), (80, 0.6)])
    static = _run(tmp_path, "static", [(0, 0.3)])
    frame = mixture_frame([online, static])
    assert set(frame["method"]) == {"online"}
    a = frame[frame["group"] == "a"].sort_values("step")
    assert a["step"].tolist() == [0, 40, 80, 100] and a["p"].tolist() == [0.5, 0.7, 0.6, 0.6]


def test_delta_figure_uses_table2s_paired_intervals(tmp_path):
    from pipeline_lib.report.figures import delta_frame, plot_avg_ppl
    from pipeline_lib.report.tables import load_runs
    from tests.unit.test_tables import _table2_runs

    runs = load_runs(_table2_runs(tmp_path))
    frame = delta_frame(runs).set_index(["setting", "method"])
    assert list(frame.index) == [("x", "static"), ("y", "static")]
    row = frame.loc[("x", "static")]  # paired diffs (-1, -2): t(0.975, 1) = 12.706 -> [-7.853, 4.853]
    assert round(row["delta"], 3) == -1.5 and round(row["delta_lo"], 3) == -7.853
    plot_avg_ppl(runs, tmp_path / "delta.png")
    assert (tmp_path / "delta.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_delta_figure_with_stratified_alone(tmp_path):
    from pipeline_lib.report.figures import plot_avg_ppl
    from pipeline_lib.report.tables import load_runs
    from tests.unit.test_tables import _run as table_run

    runs = load_runs([table_run(tmp_path, "s", "stratified", 0, [10.0, 12.0])])
    plot_avg_ppl(runs, tmp_path / "only.png")
    assert (tmp_path / "only.png").stat().st_size > 0


def test_every_method_gets_its_own_colour_and_marker_and_laws_their_r2():
    from pipeline_lib.report.figures import method_styles, r_squared

    methods = [f"m{i}" for i in range(14)] + ["stratified"]
    palette, markers = method_styles(methods)
    pairs = {(tuple(palette[m]), markers[m]) for m in methods}
    assert len(pairs) == len(methods) and len({tuple(c) for c in palette.values()}) == len(methods)
    assert r_squared([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert r_squared([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == 0.0
