# What the offline steps fit on learning runs, per view ({setting}{view}) and seed: grid search's pick, the
# DML law, Skill-It's graph, the DoReMi/DoGE proxies' averaged weights, and the laws' fidelity.


rule fit_grid_search:
    input:
        get_pilot_runs,
    output:
        f"{RESULTS}/{{setting}}{{view}}/fits/grid_search/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/grid_search/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.methods.grid_search fit --pilots {{input}} --out {{output}} > {{log}} 2>&1"


# Unrestricted with full-length pilots, the best pilot is grid search's run (no rerun); otherwise the planner
# trains the picked mixture (rule train).
rule select_grid_search:
    input:
        f"{RESULTS}/{{setting}}/fits/grid_search/seed{{seed}}.json",
    output:
        run=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/run.json",
        curve=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/runs/grid_search/seed{{seed}}/mixture.csv",
    wildcard_constraints:
        setting=_alternatives(s for s in PROJECT.run_settings if PLAN.pilots_are_runs(s)),
    params:
        out_dir=lambda wc: f"{RESULTS}/{PLAN.run_dir(wc.setting, 'grid_search', wc.seed)}",
    log:
        f"{RESULTS}/logs/{{setting}}/runs/grid_search/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.methods.grid_search select --fit {{input}} --out-dir {{params.out_dir}} "
        "> {log} 2>&1"


rule fit_dml:
    input:
        get_pilot_runs,
    output:
        f"{RESULTS}/{{setting}}{{view}}/fits/dml/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/dml/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.methods.dml --pilots {{input}} --seed {{wildcards.seed}} --out {{output}} "
        "> {log} 2>&1"


rule fit_skillit:
    input:
        lambda wc: results(PLAN.onehot_runs(view_of(wc), wc.seed)),
    output:
        f"{RESULTS}/{{setting}}{{view}}/fits/skillit/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/skillit/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.methods.skillit --runs {{input}} --out {{output}} > {{log}} 2>&1"


rule fit_proxy:
    input:
        proxy=lambda wc: f"{RESULTS}/{PLAN.pilot_dir(view_of(wc), wc.proxy, wc.seed)}/run.json",
        reference=get_proxy_reference,
    output:
        f"{RESULTS}/{{setting}}{{view}}/fits/{{proxy}}/seed{{seed}}.json",
    params:
        reference=lambda wc, input: f"--reference {input.reference}" if input.reference else "",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/{{proxy}}/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.methods.proxy --method {{wildcards.proxy}} --proxy {{input.proxy}} "
        "{params.reference} --out {output} > {log} 2>&1"


rule law_fidelity:
    input:
        static=f"{RESULTS}/{{setting}}/fits/dml/seed{{seed}}.json",
        parent=lambda wc: f"{RESULTS}/{PLAN.pilot_dir(wc.setting, 'dynamic', wc.seed, 'parent')}/run.json",
        children=lambda wc: results(PLAN.dynamic_children(wc.setting, wc.seed)),
        online=get_similarity_inputs,
    output:
        f"{RESULTS}/{{setting}}/fits/fidelity/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/fidelity/seed{{seed}}.log",
    conda:
        "../environment.yml"
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
        html=setting_report(f"{RESULTS}/{{setting}}/tables/fidelity.html", "fidelity", "{setting}"),
    params:
        out=lambda wc: f"{RESULTS}/{wc.setting}/tables/fidelity",
    log:
        f"{RESULTS}/logs/{{setting}}/fidelity_table.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input}} --out {{params.out}} > {{log}} 2>&1"


rule fidelity_report:
    input:
        [fit_file(s, "fidelity", seed) for s in PROJECT.run_settings for seed in PROJECT.seeds],
    output:
        **report_outputs("fidelity"),
    log:
        f"{RESULTS}/logs/report/fidelity.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input}} --out {RESULTS}/report/fidelity "
        "> {log} 2>&1"
