# Olmix's mixture-reuse experiment (`reuse:`, results/reuse/): per stage the priors; per stage, strategy
# (chain) and seed the plan and swarm, its proxies (rule train) and the fit; a target run per strategy on the
# last stage (rule train); the table and figure. Each link reads the previous stage's fit of its chain.


wildcard_constraints:
    stage=r"\d+",
    chain=_alternatives(REUSE_CHAINS),


rule reuse_priors:
    input:
        lambda wc: [R(paths.group_files(g)[0]) for g in REUSE.stages[int(wc.stage)]],
    output:
        R(paths.reuse_priors("{stage}")),
    params:
        groups=lambda wc: shlex.join(REUSE.stages[int(wc.stage)]),
        natural=get_reuse_natural,
    log:
        R(paths.log(paths.reuse_priors("{stage}").removesuffix(".json"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix priors --data-dir {shlex.quote(DATA)} --groups {{params.groups}} {{params.natural}} "
        "--out {output:q} > {log:q} 2>&1"


rule reuse_plan:
    input:
        unpack(get_reuse_link_inputs),
    output:
        R(paths.reuse_dir("{stage}", "{chain}", "{seed}") + "/plan.json"),
    wildcard_constraints:
        chain=_alternatives(c for c in REUSE_CHAINS if c != "natural"),
    params:
        link=get_reuse_link_args,
        counts=lambda wc: "--new-runs {} --mapped-runs {}".format(*PLAN.reuse_plan_counts(wc.stage, wc.chain)),
        proxy_tokens=lambda wc: PLAN.proxy_tokens(REUSE.stage_key(int(wc.stage))),
        task_of=json.dumps({name: v.of for name, v in PROJECT.data.views.items()}, sort_keys=True),
    log:
        R(paths.log(paths.reuse_dir("{stage}", "{chain}", "{seed}") + "/plan")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix reuse-plan {{params.link}} {{params.counts}} "
        "--proxy-tokens {params.proxy_tokens} --task-of {params.task_of:q} --out {output:q} > {log:q} 2>&1"


rule reuse_fit:
    input:
        unpack(get_reuse_fit_inputs),
    output:
        R(paths.reuse_dir("{stage}", "{chain}", "{seed}") + "/fit.json"),
    params:
        link=get_reuse_link_args,
        plan=lambda wc, input: f"--plan {input.plan}" if "plan" in input.keys() else "",
        target_tokens=lambda wc: PLAN.target_tokens(REUSE.stage_key(int(wc.stage))),
    log:
        R(paths.log(paths.reuse_dir("{stage}", "{chain}", "{seed}") + "/fit")),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix reuse-fit {{params.link}} {{params.plan}} --runs {{input.runs:q}} "
        "--target-tokens {params.target_tokens} --out {output:q} > {log:q} 2>&1"


rule reuse_table:
    input:
        fits=get_reuse_fits,
        targets=lambda wc: results(
            f"{paths.reuse_target(s, seed)}/run.json" for s in REUSE.strategies for seed in REUSE.seeds
        ),
    output:
        csv=R(paths.reuse_report("reuse.csv")),
        md=R(paths.reuse_report("reuse.md")),
        tex=R(paths.reuse_report("reuse.tex")),
        html=report(
            R(paths.reuse_report("reuse.html")),
            caption="../report/reuse.rst",
            category="Tables",
            labels={"table": "reuse"},
        ),
        stages_csv=R(paths.reuse_report("stages.csv")),
        stages_md=R(paths.reuse_report("stages.md")),
        mixtures=R(paths.reuse_report("mixtures.csv")),
        figure=figure(R(paths.reuse_report("reuse.png")), "reuse"),
    params:
        out=lambda wc, output: output.csv.removesuffix(".csv"),
    log:
        R(paths.log(paths.reuse_report("").rstrip("/"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix reuse-table --fits {{input.fits:q}} --targets {{input.targets:q}} "
        "--out {params.out:q} > {log:q} 2>&1"
