# Report stage: per-setting tables, Table 2 (unrestricted, with the paper beside it), Table 3 (restricted),
# figures. Outputs wrapped in report() go into `snakemake --report results/report.html`.


def paper_args():
    """--paper setting=column for every run setting that stands for a paper column; --same-data on SlimPajama."""
    pairs = [f"{s}={PROJECT.settings[s].paper}" for s in PROJECT.run_settings if PROJECT.settings[s].paper]
    same = " --same-data" if PROJECT.data.source.kind == "slimpajama" else ""
    return f"--paper {' '.join(pairs)}{same}" if pairs else ""


rule setting_table:
    input:
        lambda wc: setting_runs(wc.setting),
    output:
        csv=f"{RESULTS}/{{setting}}/tables/perplexity.csv",
        md=f"{RESULTS}/{{setting}}/tables/perplexity.md",
    params:
        out=lambda wc: f"{RESULTS}/{wc.setting}/tables/perplexity",
    log:
        f"{RESULTS}/logs/{{setting}}/setting_table.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables setting --runs {{input}} --out {{params.out}} > {{log}} 2>&1"


rule table2:
    input:
        [run for s in PROJECT.run_settings for run in setting_runs(s)],
    output:
        **report_outputs("table2", "table2_exp_loss", *(["table2_paper"] if paper_args() else [])),
    params:
        paper=paper_args(),
    log:
        f"{RESULTS}/logs/report/table2.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables table2 --runs {{input}} {{params.paper}} "
        f"--out-dir {RESULTS}/report > {{log}} 2>&1"


rule table3:
    input:
        [run for s in PROJECT.restricted_settings for run in setting_runs(s)],
    output:
        **report_outputs("table3"),
    log:
        f"{RESULTS}/logs/report/table3.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables table3 --runs {{input}} --out-dir {RESULTS}/report > {{log}} 2>&1"


def proxy_fits(setting):
    methods = PROJECT.methods_of(setting)
    return [fit_file(setting, m, seed) for m in ("doremi", "doge") if m in methods for seed in PROJECT.seeds]


rule mixture_figure:
    input:
        runs=lambda wc: setting_runs(wc.setting),
        proxies=lambda wc: proxy_fits(wc.setting),
    output:
        figure(f"{RESULTS}/{{setting}}/figures/mixtures.png", "mixtures", "{setting}"),
    log:
        f"{RESULTS}/logs/{{setting}}/figures/mixtures.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures mixtures --runs {{input.runs}} --proxies {{input.proxies}} "
        "--title '{wildcards.setting}: mixture p over steps' --out {output} > {log} 2>&1"


rule val_loss_figure:
    input:
        lambda wc: setting_runs(wc.setting),
    output:
        figure(f"{RESULTS}/{{setting}}/figures/val_loss.png", "val_loss", "{setting}"),
    log:
        f"{RESULTS}/logs/{{setting}}/figures/val_loss.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures val-loss --runs {{input}} "
        "--title '{wildcards.setting}: validation loss per group' --out {output} > {log} 2>&1"


rule law_fit_figure:
    input:
        dml=lambda wc: fit_file(wc.setting, "dml", PROJECT.seeds[0]),
        fidelity=lambda wc: fit_file(wc.setting, "fidelity", PROJECT.seeds[0]),
    output:
        figure(f"{RESULTS}/{{setting}}/figures/law_fit.png", "law_fit", "{setting}"),
    log:
        f"{RESULTS}/logs/{{setting}}/figures/law_fit.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures law-fit --dml {{input.dml}} --fidelity {{input.fidelity}} "
        "--title '{wildcards.setting}: predicted vs observed validation loss' --out {output} > {log} 2>&1"


rule avg_ppl_figure:
    input:
        [run for s in PROJECT.run_settings for run in setting_runs(s)],
    output:
        figure(f"{RESULTS}/report/figures/avg_ppl.png", "avg_ppl"),
    log:
        f"{RESULTS}/logs/report/figures/avg_ppl.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures avg-ppl --runs {{input}} --out {{output}} > {{log}} 2>&1"
