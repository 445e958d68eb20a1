# Report stage: per-setting tables, Table 2 (unrestricted, with the paper beside it), Table 3 (restricted),
# figures. Outputs wrapped in report() go into `snakemake --report results/report.html`.


def paper_args():
    """--paper setting=column for every run setting that stands for a paper column; --same-data on SlimPajama."""
    pairs = [f"{s}={PROJECT.settings[s].paper}" for s in PROJECT.run_settings if PROJECT.settings[s].paper]
    same = " --same-data" if PROJECT.data.source.kind == "slimpajama" else ""
    return f"--paper {' '.join(pairs)}{same}" if pairs else ""


rule setting_table:
    input:
        get_final_runs,
    output:
        csv=f"{RESULTS}/{{setting}}{{view}}/tables/perplexity.csv",
        md=f"{RESULTS}/{{setting}}{{view}}/tables/perplexity.md",
    params:
        out=lambda wc: f"{RESULTS}/{view_of(wc)}/tables/perplexity",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/setting_table.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables setting --runs {{input}} --out {{params.out}} > {{log}} 2>&1"


rule table2:
    input:
        results(run for s in PROJECT.run_settings for run in PLAN.final_runs(s)),
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
        results(run for s in PROJECT.restricted_settings for run in PLAN.final_runs(s)),
    output:
        **report_outputs("table3"),
    log:
        f"{RESULTS}/logs/report/table3.log",
    shell:
        f"{PY} -m pipeline_lib.report.tables table3 --runs {{input}} --out-dir {RESULTS}/report > {{log}} 2>&1"


def get_proxy_fits(wildcards):
    view = view_of(wildcards)
    methods = PROJECT.methods_of(view)
    return [fit_file(view, m, seed) for m in ("doremi", "doge") if m in methods for seed in PROJECT.seeds]


rule mixture_figure:
    input:
        runs=get_final_runs,
        proxies=get_proxy_fits,
    output:
        figure(f"{RESULTS}/{{setting}}{{view}}/figures/mixtures.png", "mixtures", "{setting}{view}"),
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/figures/mixtures.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures mixtures --runs {{input.runs}} --proxies {{input.proxies}} "
        "--title '{wildcards.setting}{wildcards.view}: mixture p over steps' --out {output} > {log} 2>&1"


rule val_loss_figure:
    input:
        get_final_runs,
    output:
        figure(f"{RESULTS}/{{setting}}{{view}}/figures/val_loss.png", "val_loss", "{setting}{view}"),
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/figures/val_loss.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures val-loss --runs {{input}} "
        "--title '{wildcards.setting}{wildcards.view}: validation loss per group' --out {output} > {log} 2>&1"


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
        results(run for s in PROJECT.run_settings for run in PLAN.final_runs(s)),
    output:
        figure(f"{RESULTS}/report/figures/avg_ppl.png", "avg_ppl"),
    log:
        f"{RESULTS}/logs/report/figures/avg_ppl.log",
    shell:
        f"{PY} -m pipeline_lib.report.figures avg-ppl --runs {{input}} --out {{output}} > {{log}} 2>&1"
