# What the offline steps fit on learning runs, per view ({setting}{view}) and seed: one generic rule runs
# every method's fit step as its registry declaration says (pipeline_lib/config/registry.py); the fidelity
# study scores the laws.


rule fit:
    input:
        unpack(get_fit_inputs),
    output:
        fit=R(paths.fit_file(VIEW, "{fit}", "{seed}")),
    wildcard_constraints:
        fit=_alternatives(n for n in FIT_STEPS if not fit_step(n).tables),
    params:
        module=lambda wc: fit_step(wc.fit).module,
        argv=get_fit_argv,
    log:
        R(paths.log(paths.fit_dir(VIEW, "{fit}", "{seed}"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m {{params.module}} {{params.argv}} > {{log:q}} 2>&1"


# A fit step that also writes its tables and figures (a fitted law: ratios.csv, metrics.csv, law.json, ...);
# its figures (fit.png, optimal.png, interaction_matrix.png) go into the HTML report.
use rule fit as fit_with_tables with:
    output:
        fit=R(paths.fit_file(VIEW, "{fit}", "{seed}")),
        tables=fit_figures(directory(R(paths.fit_dir(VIEW, "{fit}", "{seed}")))),
    wildcard_constraints:
        fit=_alternatives(n for n in FIT_STEPS if fit_step(n).tables),


# Unrestricted with full-length pilots, a method's best pilot is its final run (no rerun): the method's fit
# step selects it; otherwise the planner trains the picked mixture (rule train).
rule select_pilot:
    input:
        R(paths.fit_file("{setting}", "{method}", "{seed}")),
    output:
        **{k: R(v) for k, v in paths.run_outputs(paths.run_dir("{setting}", "{method}", "{seed}")).items()},
    wildcard_constraints:
        setting=_alternatives(v for v in PROJECT.run_settings if PLAN.pilots_are_runs(v)),
        method=_alternatives(m for m in PROJECT.run_methods if METHODS[m].pilot_is_run),
    params:
        module=lambda wc: fit_step(wc.method).module,
        out_dir=lambda wc, output: os.path.dirname(output.run),
    log:
        R(paths.log(paths.run_dir("{setting}", "{method}", "{seed}"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m {{params.module}} select --fit {{input:q}} --out-dir {{params.out_dir:q}} > {{log:q}} 2>&1"


rule law_fidelity:
    input:
        static=R(paths.fit_file("{setting}", STATIC_LAW, "{seed}")),
        parent=lambda wc: R(
            paths.run_outputs(paths.pilot_dir(wc.setting, paths.DYNAMIC, wc.seed, "parent"))["run"]
        ),
        children=lambda wc: results(PLAN.dynamic_children(wc.setting, wc.seed)),
        online=get_similarity_inputs,
    output:
        R(paths.fit_file("{setting}", "fidelity", "{seed}")),
    log:
        R(paths.log(paths.fit_dir("{setting}", "fidelity", "{seed}"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.fidelity fit --static {{input.static:q}} --parent {{input.parent:q}} "
        "--children {input.children:q} --online {input.online:q} --setting {wildcards.setting:q} "
        "--seed {wildcards.seed:q} --out {output:q} > {log:q} 2>&1"


rule fidelity_table:
    input:
        lambda wc: [fit_file(wc.setting, "fidelity", s) for s in PROJECT.seeds],
    output:
        csv=R(paths.table("{setting}", "fidelity.csv")),
        md=R(paths.table("{setting}", "fidelity.md")),
        tex=R(paths.table("{setting}", "fidelity.tex")),
        html=setting_report(R(paths.table("{setting}", "fidelity.html")), "fidelity", "{setting}"),
    params:
        out=lambda wc, output: output.csv.removesuffix(".csv"),
    log:
        R(paths.log("{setting}/fidelity_table")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input:q}} --out {{params.out:q}} > {{log:q}} 2>&1"


rule fidelity_report:
    input:
        [fit_file(s, "fidelity", seed) for s in PROJECT.run_settings for seed in PROJECT.seeds],
    output:
        **report_outputs("fidelity"),
    params:
        out=lambda wc, output: output.fidelity_csv.removesuffix(".csv"),
    log:
        R(paths.log(paths.report("fidelity"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.report.fidelity table --fits {{input:q}} --out {{params.out:q}} > {{log:q}} 2>&1"
