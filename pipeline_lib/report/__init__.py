"""Report stage: tables (CSV, Markdown) from the runs' ``run.json`` records."""
