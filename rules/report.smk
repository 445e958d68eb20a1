# Report stage: per-setting tables, Table 2 (unrestricted, with the headline and the paper beside it), Table 3
# (restricted), figures, each final run's exported mixture. Outputs in report() go into `snakemake --report`.


rule setting_table:
    input:
        get_final_runs,
    output:
        csv=R(paths.table(VIEW, "perplexity.csv")),
        md=R(paths.table(VIEW, "perplexity.md")),
        html=setting_report(R(paths.table(VIEW, "perplexity.html")), "perplexity"),
    params:
        out=lambda wc, output: output.csv.removesuffix(".csv"),
    log:
        R(paths.log(f"{VIEW}/setting_table")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.tables setting --runs {{input:q}} --out {{params.out:q}} > {{log:q}} 2>&1"


rule mixture:
    input:
        R(f"{paths.run_dir(VIEW, '{method}', '{seed}')}/run.json"),
    output:
        json=R(paths.mixture_file(VIEW, "{method}", "{seed}", "json")),
        yaml=R(paths.mixture_file(VIEW, "{method}", "{seed}", "yaml")),
    wildcard_constraints:
        method=_alternatives(FINAL_METHODS),
    log:
        R(paths.log(f"{VIEW}/mixtures/{{method}}/seed{{seed}}")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.export --run {{input:q}} --format plain --out {{output.json:q}} {{output.yaml:q}} "
        "> {log:q} 2>&1"


rule table2:
    input:
        results(run for s in PROJECT.run_settings for run in PLAN.final_runs(s)),
    output:
        **report_outputs("table2", "table2_exp_loss", *(["table2_paper"] if get_paper_args() else [])),
        **report_outputs("headline"),
        headline_rst=R(paths.report("headline.rst")),  # the HTML report's first page includes it
    params:
        paper=get_paper_args(),
        out_dir=lambda wc, output: os.path.dirname(output.table2_csv),
    log:
        R(paths.log(paths.report("table2"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.tables table2 --runs {{input:q}} {{params.paper}} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


rule table3:
    input:
        results(run for s in PROJECT.restricted_settings for run in PLAN.final_runs(s)),
    output:
        **report_outputs("table3"),
    params:
        out_dir=lambda wc, output: os.path.dirname(output.table3_csv),
    log:
        R(paths.log(paths.report("table3"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.tables table3 --runs {{input:q}} --out-dir {{params.out_dir:q}} > {{log:q}} 2>&1"


rule mixture_figure:
    input:
        runs=get_final_runs,
        proxies=get_proxy_fits,
    output:
        figure(R(paths.figure(VIEW, "mixtures")), "mixtures", VIEW),
    params:
        title=lambda wc: f"{view_of(wc)}: mixture p over steps",
    log:
        R(paths.log(f"{VIEW}/figures/mixtures")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.figures mixtures --runs {{input.runs:q}} --proxies {{input.proxies:q}} "
        "--title {params.title:q} --out {output:q} > {log:q} 2>&1"


rule val_loss_figure:
    input:
        get_final_runs,
    output:
        figure(R(paths.figure(VIEW, "val_loss")), "val_loss", VIEW),
    params:
        title=lambda wc: f"{view_of(wc)}: validation loss per group",
    log:
        R(paths.log(f"{VIEW}/figures/val_loss")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.figures val-loss --runs {{input:q}} --title {{params.title:q}} "
        "--out {output:q} > {log:q} 2>&1"


rule law_fit_figure:
    input:
        dml=lambda wc: fit_file(wc.setting, STATIC_LAW, PROJECT.seeds[0]),
        fidelity=lambda wc: fit_file(wc.setting, "fidelity", PROJECT.seeds[0]),
    output:
        figure(R(paths.figure("{setting}", "law_fit")), "law_fit", "{setting}"),
    params:
        title=lambda wc: f"{wc.setting}: predicted vs observed validation loss",
    log:
        R(paths.log("{setting}/figures/law_fit")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.figures law-fit --dml {{input.dml:q}} --fidelity {{input.fidelity:q}} "
        "--title {params.title:q} --out {output:q} > {log:q} 2>&1"


rule avg_ppl_figure:
    input:
        results(run for s in PROJECT.run_settings for run in PLAN.final_runs(s)),
    output:
        figure(R(paths.report_figure("avg_ppl")), "avg_ppl"),
    log:
        R(paths.log(paths.report("figures/avg_ppl"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.figures avg-ppl --runs {{input:q}} --out {{output:q}} > {{log:q}} 2>&1"


rule claims:
    input:
        table2=R(paths.report("table2.csv")),
        table3=[R(paths.report("table3.csv"))] if PROJECT.restricted_settings else [],
        fidelity=[R(paths.report("fidelity.csv"))] if PROJECT.law_fidelity else [],
    output:
        **report_outputs("claims"),
    params:
        optional=lambda wc, input: " ".join(
            f"--{name} {shlex.quote(input[name][0])}" for name in ("table3", "fidelity") if input[name]
        ),
        out=lambda wc, output: output.claims_csv.removesuffix(".csv"),
    log:
        R(paths.log(paths.report("claims"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.claims --table2 {{input.table2:q}} {{params.optional}} "
        "--out {params.out:q} > {log:q} 2>&1"
