# Report stage: per-setting tables, Table 2 (unrestricted, with the paper beside it), Table 3 (restricted),
# figures. Outputs wrapped in report() go into `snakemake --report results/report.html`.


rule setting_table:
    input:
        get_final_runs,
    output:
        csv=f"{RESULTS}/{{setting}}{{view}}/tables/perplexity.csv",
        md=f"{RESULTS}/{{setting}}{{view}}/tables/perplexity.md",
        html=setting_report(f"{RESULTS}/{{setting}}{{view}}/tables/perplexity.html", "perplexity"),
    params:
        out=lambda wc: f"{RESULTS}/{view_of(wc)}/tables/perplexity",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/setting_table.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.tables setting --runs {{input}} --out {{params.out}} > {{log}} 2>&1"


rule table2:
    input:
        results(run for s in PROJECT.run_settings for run in PLAN.final_runs(s)),
    output:
        **report_outputs("table2", "table2_exp_loss", *(["table2_paper"] if get_paper_args() else [])),
    params:
        paper=get_paper_args(),
    log:
        f"{RESULTS}/logs/report/table2.log",
    conda:
        "../environment.yml"
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
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.tables table3 --runs {{input}} --out-dir {RESULTS}/report > {{log}} 2>&1"


rule mixture_figure:
    input:
        runs=get_final_runs,
        proxies=get_proxy_fits,
    output:
        figure(f"{RESULTS}/{{setting}}{{view}}/figures/mixtures.png", "mixtures", "{setting}{view}"),
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/figures/mixtures.log",
    conda:
        "../environment.yml"
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
    conda:
        "../environment.yml"
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
    conda:
        "../environment.yml"
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
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.figures avg-ppl --runs {{input}} --out {{output}} > {{log}} 2>&1"


rule claims:
    input:
        table2=f"{RESULTS}/report/table2.csv",
        table3=[f"{RESULTS}/report/table3.csv"] if PROJECT.restricted_settings else [],
        fidelity=[f"{RESULTS}/report/fidelity.csv"] if PROJECT.law_fidelity else [],
    output:
        **report_outputs("claims"),
    params:
        optional=lambda wc, input: " ".join(
            f"--{name} {input[name][0]}" for name in ("table3", "fidelity") if input[name]
        ),
    log:
        f"{RESULTS}/logs/report/claims.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.claims --table2 {{input.table2}} {{params.optional}} "
        f"--out {RESULTS}/report/claims > {{log}} 2>&1"
