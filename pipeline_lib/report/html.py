"""A self-contained HTML page for one table: its title, the table and its note (the HTML report shows
HTML inline, while it only links CSV files)."""

from __future__ import annotations

import html

import pandas as pd

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1em}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border-bottom:1px solid #ddd;padding:3px 7px;text-align:right}"
    "td{white-space:nowrap}th{max-width:11em;vertical-align:bottom}"  # narrow, beside the report's menu
    "th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #444}"
    "caption{caption-side:top;text-align:left;font-weight:600;margin-bottom:6px}p{color:#444;max-width:60em}"
)


def to_html(frame: pd.DataFrame, title: str, note: str = "", floatfmt: str = ".3f") -> str:
    """An HTML page with ``frame`` as a table (index shown when named), ``title`` as its caption."""
    df = frame.reset_index() if frame.index.name or any(frame.index.names) else frame

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else format(value, floatfmt)
        return "" if value is None else str(value)

    # a header may break after each "/" (setting names join their groups with one)
    head = "".join(f"<th>{html.escape(str(c)).replace('/', '/<wbr>')}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    paragraph = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><table><caption>{html.escape(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{paragraph}</body></html>\n"
    )
