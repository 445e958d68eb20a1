# Report stage: per-setting and cross-setting perplexity tables (CSV + Markdown).


rule setting_table:
    input:
        lambda wc: setting_runs(wc.setting),
    output:
        csv=f"{RESULTS}/{{setting}}/tables/perplexity.csv",
        md=f"{RESULTS}/{{setting}}/tables/perplexity.md",
    log:
        f"{RESULTS}/logs/{{setting}}/setting_table.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables setting --runs {{input}} --csv {{output.csv}} --md {{output.md}} "
        "> {log} 2>&1"


rule report_table:
    input:
        [run for s in PROJECT.run_settings for run in setting_runs(s)],
    output:
        csv=f"{RESULTS}/report/perplexity.csv",
        md=f"{RESULTS}/report/perplexity.md",
    log:
        f"{RESULTS}/logs/report/perplexity.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables overview --runs {{input}} --csv {{output.csv}} --md {{output.md}} "
        "> {log} 2>&1"
