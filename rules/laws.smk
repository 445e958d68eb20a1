# Mixing laws fitted on pilots: grid search's pick, the DML fit, and the laws' fidelity.


rule fit_grid_search:
    input:
        lambda wc: pilot_runs(wc.setting, wc.seed),
    output:
        f"{RESULTS}/{{setting}}/fits/grid_search/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/grid_search/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.methods.grid_search fit --pilots {{input}} --out {{output}} > {{log}} 2>&1"


# Unrestricted, the pilots are full-length: the best one is grid search's run (no rerun). Restricted
# settings train the picked mixture instead (rule train).
rule select_grid_search:
    input:
        f"{RESULTS}/{{setting}}/fits/grid_search/seed{{seed}}.json",
    output:
        run=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/run.json",
        curve=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/mixture.csv",
    wildcard_constraints:
        setting=SELECT_GS_SETTINGS,
    params:
        out_dir=lambda wc: run_dir(wc.setting, "grid_search", wc.seed),
    log:
        f"{RESULTS}/logs/{{setting}}/grid_search/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.methods.grid_search select --fit {{input}} --out-dir {{params.out_dir}} "
        "> {log} 2>&1"


ruleorder: select_grid_search > train


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


# Online methods whose own A^t is compared with the fitted dynamic law (parameter similarity): Aioli's and
# Skill-It's final runs, DoReMi's and DoGE's proxies (their fits trace the scores).
SIMILARITY_RUNS = [m for m in ("aioli", "skillit") if m in PROJECT.run_methods]
SIMILARITY_PROXIES = [m for m in ("doremi", "doge") if m in PROJECT.run_methods]


rule law_fidelity:
    input:
        static=f"{RESULTS}/{{setting}}/fits/dml/seed{{seed}}.json",
        parent=rules.dynamic_parent.output.run,
        children=lambda wc: dynamic_children(wc.setting, wc.seed),
        online=lambda wc: [f"{run_dir(wc.setting, m, wc.seed)}/run.json" for m in SIMILARITY_RUNS]
        + [fit_file(wc.setting, m, wc.seed) for m in SIMILARITY_PROXIES],
    output:
        f"{RESULTS}/{{setting}}/fits/fidelity/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/fidelity/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.report.fidelity fit --static {{input.static}} --parent {{input.parent}} "
        "--children {input.children} --online {input.online} --setting {wildcards.setting} "
        "--seed {wildcards.seed} --out {output} > {log} 2>&1"


rule fidelity_table:
    input:
        lambda wc: [fit_file(wc.setting, "fidelity", s) for s in PROJECT.seeds],
    output:
        csv=f"{RESULTS}/{{setting}}/tables/fidelity.csv",
        md=f"{RESULTS}/{{setting}}/tables/fidelity.md",
        tex=f"{RESULTS}/{{setting}}/tables/fidelity.tex",
    params:
        out=lambda wc: f"{RESULTS}/{wc.setting}/tables/fidelity",
    log:
        f"{RESULTS}/logs/{{setting}}/fidelity_table.log",
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input}} --out {{params.out}} > {{log}} 2>&1"


rule fidelity_report:
    input:
        [fit_file(s, "fidelity", seed) for s in PROJECT.run_settings for seed in PROJECT.seeds],
    output:
        **report_outputs("fidelity"),
    log:
        f"{RESULTS}/logs/report/fidelity.log",
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input}} --out {RESULTS}/report/fidelity "
        "> {log} 2>&1"
