# Olmix's mixture-reuse experiment (`reuse:`, results/reuse/): per stage the priors; per stage, strategy
# (chain) and seed the plan and swarm, its proxies (rule train) and the fit; a target run per strategy on the
# last stage (rule train); the table and figure. Each link reads the previous stage's fit of its chain.


wildcard_constraints:
    stage=r"\d+",
    chain=_alternatives(REUSE_CHAINS),


rule reuse_priors:
    input:
        lambda wc: [f"{DATA}/{g}/meta.json" for g in REUSE.stages[int(wc.stage)]],
    output:
        f"{RESULTS}/reuse/stage{{stage}}/priors.json",
    params:
        groups=lambda wc: " ".join(REUSE.stages[int(wc.stage)]),
        natural=get_reuse_natural,
    log:
        f"{RESULTS}/logs/reuse/stage{{stage}}/priors.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix priors --data-dir {DATA} --groups {{params.groups}} {{params.natural}} "
        "--out {output} > {log} 2>&1"


rule reuse_plan:
    input:
        unpack(get_reuse_link_inputs),
    output:
        f"{RESULTS}/reuse/stage{{stage}}/{{chain}}/seed{{seed}}/plan.json",
    wildcard_constraints:
        chain=_alternatives(c for c in REUSE_CHAINS if c != "natural"),
    params:
        link=get_reuse_link_args,
        counts=lambda wc: "--new-runs {} --mapped-runs {}".format(*PLAN.reuse_plan_counts(wc.stage, wc.chain)),
        proxy_tokens=lambda wc: PLAN.proxy_tokens(REUSE.stage_key(int(wc.stage))),
        task_of=json.dumps({name: v.of for name, v in PROJECT.data.views.items()}, sort_keys=True),
    log:
        f"{RESULTS}/logs/reuse/stage{{stage}}/{{chain}}/seed{{seed}}/plan.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix reuse-plan {{params.link}} {{params.counts}} "
        "--proxy-tokens {params.proxy_tokens} --task-of {params.task_of:q} --out {output} > {log} 2>&1"


rule reuse_fit:
    input:
        unpack(get_reuse_fit_inputs),
    output:
        f"{RESULTS}/reuse/stage{{stage}}/{{chain}}/seed{{seed}}/fit.json",
    params:
        link=get_reuse_link_args,
        plan=lambda wc, input: f"--plan {input.plan}" if "plan" in input.keys() else "",
        target_tokens=lambda wc: PLAN.target_tokens(REUSE.stage_key(int(wc.stage))),
    log:
        f"{RESULTS}/logs/reuse/stage{{stage}}/{{chain}}/seed{{seed}}/fit.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix reuse-fit {{params.link}} {{params.plan}} --runs {{input.runs}} "
        "--target-tokens {params.target_tokens} --out {output} > {log} 2>&1"


rule reuse_table:
    input:
        fits=get_reuse_fits,
        targets=lambda wc: results(f"{PLAN.reuse_target(s, seed)}/run.json" for s in REUSE.strategies for seed in REUSE.seeds),
    output:
        csv=f"{RESULTS}/reuse/report/reuse.csv",
        md=f"{RESULTS}/reuse/report/reuse.md",
        tex=f"{RESULTS}/reuse/report/reuse.tex",
        html=report(f"{RESULTS}/reuse/report/reuse.html", caption="../report/reuse.rst", category="Tables", labels={"table": "reuse"}),
        stages_csv=f"{RESULTS}/reuse/report/stages.csv",
        stages_md=f"{RESULTS}/reuse/report/stages.md",
        mixtures=f"{RESULTS}/reuse/report/mixtures.csv",
        figure=figure(f"{RESULTS}/reuse/report/reuse.png", "reuse"),
    log:
        f"{RESULTS}/logs/reuse/report.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix reuse-table --fits {{input.fits}} --targets {{input.targets}} "
        f"--out {RESULTS}/reuse/report/reuse > {{log}} 2>&1"
