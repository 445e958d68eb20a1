"""A dependency-free LaTeX (booktabs) table writer."""

from __future__ import annotations

import pandas as pd

_ESCAPES = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}


def escape(text: str) -> str:
    """Escape LaTeX's special characters; '±' and '→' become math symbols."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in text)
    return out.replace("±", r"$\pm$").replace("→", r"$\to$").replace("−", "$-$")


def to_latex(frame: pd.DataFrame, caption: str, label: str, floatfmt: str = ".3f") -> str:
    """A ``table`` environment with a booktabs ``tabular`` of ``frame`` (index included when named)."""
    df = frame.reset_index() if frame.index.name or any(frame.index.names) else frame

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else format(value, floatfmt)
        return "" if value is None else escape(str(value))

    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(escape(str(c)) for c in df.columns) + r" \\",
        r"\midrule",
        *(" & ".join(cell(v) for v in row) + r" \\" for row in df.itertuples(index=False)),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
