"""A dependency-free Markdown table writer."""

from __future__ import annotations

import pandas as pd


def to_markdown(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """GitHub-flavoured Markdown for ``frame`` (index included when it is named)."""
    df = frame.reset_index() if frame.index.name or any(frame.index.names) else frame

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else format(value, floatfmt)
        return "" if value is None else str(value)

    header = [str(c) for c in df.columns]
    rows = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if n else ":---" for n in numeric) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines) + "\n"
