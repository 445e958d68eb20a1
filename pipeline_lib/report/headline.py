"""The answer first: per setting, the best method against stratified, its mixture, its gain and its compute.

The best method is the one with the lowest mean average test perplexity among those whose paired 95%
interval against stratified lies below 0; when none does, the row says "not resolved" and names the method
with the lowest mean. The gain is relative (% of stratified's perplexity), so it compares with the paper's
at another scale; the paper's gain is the same method's in the paper column the setting stands for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from pipeline_lib.report import labels

BASELINE = "stratified"
NOT_RESOLVED = "not resolved"


def _pick(part: pd.DataFrame) -> tuple[pd.Series, bool]:
    """The best method's summary row and whether its interval resolves it (else the lowest mean)."""
    others = part[part["method"] != BASELINE]
    better = others[others["verdict"] == "better"]
    pool = better if not better.empty else others
    return pool.loc[pool["mean"].idxmin()], not better.empty


def paper_gain(paper: pd.DataFrame, column: str | None, method: str) -> float:
    """The paper's relative gain (%) of ``method`` over stratified in ``column`` (NaN when it has none)."""
    if column is None or method not in paper.index or column not in paper.columns:
        return math.nan
    return -100.0 * float(paper.loc[method, column]) / float(paper.loc[BASELINE, column])


def headline(summary: pd.DataFrame, paper: pd.DataFrame, paper_columns: Mapping[str, str]) -> pd.DataFrame:
    """Long form, one row per setting with stratified and another method: the pick, whether it is resolved,
    its mixture (``p_<group>``), Δ with its interval, gain % over stratified, the paper's gain %, FLOPs."""
    rows = []
    for setting, part in summary.groupby("setting", sort=False):
        if BASELINE not in set(part["method"]) or len(part) < 2:
            continue
        best, resolved = _pick(part)
        base = part[part["method"] == BASELINE].iloc[0]
        groups = str(best["groups"]).split(",")
        row = {"setting": setting, "name": best["name"], "method": best["method"], "resolved": resolved}
        row |= {"groups": best["groups"], "mixture_shown": best["mixture_shown"]}
        row |= {f"p_{g}": best[f"p_{g}"] for g in groups}
        row |= {k: best[k] for k in ("delta", "delta_lo", "delta_hi", "delta_label", "pairs")}
        row["gain_pct"] = -100.0 * best["delta"] / base["mean"]
        row["paper_gain_pct"] = paper_gain(paper, paper_columns.get(setting), best["method"])
        row["flops"], row["flops_vs_stratified"] = best["flops"], best["flops"] / base["flops"]
        rows.append(row)
    return pd.DataFrame(rows)


def shown(long: pd.DataFrame) -> pd.DataFrame:
    """The headline as printed: one row per setting (its readable name)."""
    rows = {}
    for _, r in long.iterrows():
        groups = str(r["groups"]).split(",")
        mixture = ", ".join(f"{g} {r[f'p_{g}']:.3f}" for g in groups)
        mark = " (time-average)" if "time-average" in str(r["mixture_shown"]) else ""
        rows[r["name"]] = {
            "best method vs stratified": r["method"] if r["resolved"] else f"{NOT_RESOLVED} ({r['method']})",
            "its mixture": mixture + mark,
            "Δ avg test ppl": r["delta_label"],
            "gain over stratified": labels.percent(r["gain_pct"]),
            "the paper's gain (same method)": labels.percent(r["paper_gain_pct"]),
            "compute (FLOPs per seed)": f"{labels.flops(r['flops'])} "
            f"({r['flops_vs_stratified']:.1f}× stratified)",
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "setting"
    return table


FIRST_PAGE_COLUMNS = (
    "setting",
    "best vs stratified: its mixture",
    "gain over stratified (the paper's); compute",
)
FIRST_PAGE_WIDTHS = (24, 40, 36)
"""The report's first page sets its text in a narrow column beside the rule graph: three columns fit it."""


def first_page(long: pd.DataFrame) -> pd.DataFrame:
    """The headline in three columns for the HTML report's first page: setting; the method (or "not
    resolved (m)") and its mixture; its gain in % with the paper's, Δ, and its FLOPs per seed."""
    table = shown(long)
    rows = []
    for name, r in table.iterrows():
        paper = r["the paper's gain (same method)"]
        gain = r["gain over stratified"] + (f" (paper {paper})" if paper else "")
        rows.append(
            {
                FIRST_PAGE_COLUMNS[0]: name.replace("/", "/\u200b"),  # a line may break after each group
                FIRST_PAGE_COLUMNS[1]: f"{r['best method vs stratified']}: {r['its mixture']}",
                FIRST_PAGE_COLUMNS[2]: f"{gain}, Δ ppl {r['Δ avg test ppl']}; "
                f"{r['compute (FLOPs per seed)'].replace(' (', ' FLOPs/seed (')}",
            }
        )
    return pd.DataFrame(rows, columns=list(FIRST_PAGE_COLUMNS)).set_index(FIRST_PAGE_COLUMNS[0])


NOTE = (
    "Best method: the lowest mean average test perplexity among the methods whose paired 95% interval "
    f"against stratified lies below 0; '{NOT_RESOLVED} (m)': no interval does (or one seed gives none), and "
    "m has the lowest mean. Gain: −Δ as a % of stratified's perplexity (positive = better); the paper's: the "
    "same method in Aioli's Table 2 column the setting stands for (other data and scale: compare the signs "
    "and sizes, not the values). Compute: the method's training FLOPs per seed, learning runs included."
)


def to_rst(table: pd.DataFrame, title: str, widths: tuple[int, ...] | None = None) -> str:
    """``table`` as a reStructuredText list-table (the HTML report's first page includes it), with relative
    column ``widths`` when given."""
    df = table.reset_index()
    lines = [f".. list-table:: {title}", "   :header-rows: 1"]
    lines += [f"   :widths: {' '.join(map(str, widths))}", ""] if widths else [""]
    for values in [list(df.columns), *df.astype(str).itertuples(index=False)]:
        cells = [str(v).replace("*", r"\*").replace("|", r"\|") or "—" for v in values]
        lines += [f"   * - {cells[0]}", *(f"     - {c}" for c in cells[1:])]
    return "\n".join(lines) + "\n"
