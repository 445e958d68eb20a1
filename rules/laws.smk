# Mixing laws fitted on pilots: grid search's pick, the DML fit, and the laws' fidelity.


rule grid_search:
    input:
        lambda wc: pilot_runs(wc.setting, wc.seed),
    output:
        fit=f"{RESULTS}/{{setting}}/fits/grid_search/seed{{seed}}.json",
        run=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/run.json",
        curve=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/mixture.csv",
    params:
        out_dir=lambda wc: run_dir(wc.setting, "grid_search", wc.seed),
    log:
        f"{RESULTS}/logs/{{setting}}/grid_search/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.methods.grid_search --pilots {{input}} --fit {{output.fit}} "
        "--out-dir {params.out_dir} > {log} 2>&1"


rule fit_dml:
    input:
        lambda wc: pilot_runs(wc.setting, wc.seed),
    output:
        f"{RESULTS}/{{setting}}/fits/dml/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/dml/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.methods.dml --pilots {{input}} --seed {{wildcards.seed}} --out {{output}} "
        "> {log} 2>&1"


rule law_fidelity:
    input:
        static=f"{RESULTS}/{{setting}}/fits/dml/seed{{seed}}.json",
        parent=rules.dynamic_parent.output.run,
        children=lambda wc: dynamic_children(wc.setting, wc.seed),
    output:
        f"{RESULTS}/{{setting}}/fits/fidelity/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/fidelity/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.report.fidelity fit --static {{input.static}} --parent {{input.parent}} "
        "--children {input.children} --setting {wildcards.setting} --seed {wildcards.seed} "
        "--out {output} > {log} 2>&1"


rule fidelity_table:
    input:
        lambda wc: [fit_file(wc.setting, "fidelity", s) for s in PROJECT.seeds],
    output:
        csv=f"{RESULTS}/{{setting}}/tables/fidelity.csv",
        md=f"{RESULTS}/{{setting}}/tables/fidelity.md",
    log:
        f"{RESULTS}/logs/{{setting}}/fidelity_table.log",
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input}} --csv {{output.csv}} --md {{output.md}} "
        "> {log} 2>&1"


rule fidelity_report:
    input:
        [fit_file(s, "fidelity", seed) for s in PROJECT.run_settings for seed in PROJECT.seeds],
    output:
        csv=f"{RESULTS}/report/fidelity.csv",
        md=f"{RESULTS}/report/fidelity.md",
    log:
        f"{RESULTS}/logs/report/fidelity.log",
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input}} --csv {{output.csv}} --md {{output.md}} "
        "> {log} 2>&1"
