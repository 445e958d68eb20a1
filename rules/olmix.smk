# Olmix per view ({setting}{view}) and seed: the priors from the packed data, the Dirichlet swarm, its proxies
# (rule train), and the fit + proposal on the swarm (olmix) or on DML's pilots (olmix_pilots).


rule olmix_priors:
    input:
        lambda wc: [f"{DATA}/{g}/meta.json" for g in PROJECT.settings[view_of(wc)].groups],
    output:
        f"{RESULTS}/{{setting}}{{view}}/olmix/priors.json",
    params:
        groups=lambda wc: " ".join(PROJECT.settings[view_of(wc)].groups),
        natural=get_olmix_natural,
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/olmix/priors.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix priors --data-dir {DATA} --groups {{params.groups}} {{params.natural}} "
        "--out {output} > {log} 2>&1"


rule olmix_swarm:
    input:
        f"{RESULTS}/{{setting}}{{view}}/olmix/priors.json",
    output:
        f"{RESULTS}/{{setting}}{{view}}/fits/olmix_swarm/seed{{seed}}.json",
    params:
        config=get_olmix_config,
        proxy_tokens=lambda wc: PLAN.proxy_tokens(view_of(wc)),
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/olmix_swarm/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix swarm --priors {{input}} --proxy-tokens {{params.proxy_tokens}} "
        "--seed {wildcards.seed} --config {params.config:q} --out {output} > {log} 2>&1"


rule fit_olmix:
    input:
        runs=lambda wc: results(PLAN.swarm_runs(view_of(wc), wc.seed)),
        priors=f"{RESULTS}/{{setting}}{{view}}/olmix/priors.json",
    output:
        **olmix_out("olmix"),
    params:
        config=get_olmix_config,
        target_tokens=lambda wc: PLAN.target_tokens(view_of(wc)),
        out=lambda wc, output: output.fit.removesuffix(".json"),
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/olmix/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix fit-runs --runs {{input.runs}} --metric task_bpb --priors {{input.priors}} "
        "--target-tokens {params.target_tokens} --config {params.config:q} --seed {wildcards.seed} "
        "--method olmix --fit-out {output.fit} --out {params.out} > {log} 2>&1"


rule fit_olmix_pilots:
    input:
        runs=get_pilot_runs,
        priors=f"{RESULTS}/{{setting}}{{view}}/olmix/priors.json",
    output:
        **olmix_out("olmix_pilots"),
    params:
        config=lambda wc: get_olmix_config(wc, "olmix_pilots"),
        target_tokens=lambda wc: PLAN.target_tokens(view_of(wc)),
        out=lambda wc, output: output.fit.removesuffix(".json"),
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/fits/olmix_pilots/seed{{seed}}.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix fit-runs --runs {{input.runs}} --metric val_loss --priors {{input.priors}} "
        "--target-tokens {params.target_tokens} --config {params.config:q} --seed {wildcards.seed} "
        "--method olmix_pilots --fit-out {output.fit} --out {params.out} > {log} 2>&1"


rule olmix_table:
    input:
        get_olmix_table_fits,
    output:
        csv=f"{RESULTS}/{{setting}}{{view}}/tables/olmix.csv",
        md=f"{RESULTS}/{{setting}}{{view}}/tables/olmix.md",
        tex=f"{RESULTS}/{{setting}}{{view}}/tables/olmix.tex",
        html=setting_report(f"{RESULTS}/{{setting}}{{view}}/tables/olmix.html", "olmix"),
    params:
        out=lambda wc: f"{RESULTS}/{view_of(wc)}/tables/olmix",
    log:
        f"{RESULTS}/logs/{{setting}}{{view}}/olmix_table.log",
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix table --fits {{input}} --title 'Olmix: {{wildcards.setting}}{{wildcards.view}}' "
        "--out {params.out} > {log} 2>&1"
