# Olmix's design-space experiment (`design:`; config/olmix-design.yaml): each design setting's swarm (its draw is
# rule fit's olmix_swarm, its proxies rule train's) analysed per seed, a few of its proposals trained (rule
# train: design/<setting>/seed<n>/trained/), then one report over every swarm.


# The design config has no run: block (the loader refuses one), so its report/claims is the design's.
ruleorder: design_report > claims


wildcard_constraints:
    dsetting=_alternatives(DESIGN.settings),


rule design_swarm:
    input:
        unpack(get_design_inputs),
    output:
        **{
            f.split(".")[0]: R(f"{paths.design_dir('{dsetting}', '{seed}')}/{f}")
            for f in paths.DESIGN_OUTPUTS
        },
    params:
        config=lambda wc: json.dumps(PLAN.swarm_config(wc.dsetting).to_dict(), sort_keys=True),
        design=lambda wc: json.dumps(DESIGN.for_swarm(wc.dsetting, int(wc.seed)).to_dict(), sort_keys=True),
        target_tokens=lambda wc: PLAN.target_tokens(wc.dsetting),
        out=lambda wc, output: os.path.dirname(output.scores),
    log:
        R(paths.log(paths.design_dir("{dsetting}", "{seed}"))),
    benchmark:
        R(paths.benchmark(paths.design_dir("{dsetting}", "{seed}")))
    threads: 1
    conda:
        "../environment.yml"
    shell:  # single-threaded: the fits are small; BLAS threads would only contend with the other jobs
        "export OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} MKL_NUM_THREADS={threads}; "
        f"{PY} -m pipeline_lib.olmix design --runs {{input.runs:q}} --priors {{input.priors:q}} "
        "--config {params.config:q} --design {params.design:q} --setting {wildcards.dsetting} --seed {wildcards.seed} "
        "--target-tokens {params.target_tokens} --out {params.out:q} > {log:q} 2>&1"


rule design_report:
    input:
        outputs=[
            R(f"{paths.design_dir(s, seed)}/{f}")
            for s in DESIGN.settings
            for seed in DESIGN.seeds
            for f in paths.DESIGN_OUTPUTS
        ],
        trained=get_design_trained_runs,
    output:
        claims=R(paths.report("claims.md")),
        claims_csv=R(paths.report("claims.csv")),
        claims_html=report(
            R(paths.report("claims.html")),
            caption="../report/design.rst",
            category="Tables",
            labels={"table": "olmix design claims"},
        ),
        table=R(paths.report("design.md")),
        kstar=R(paths.report("kstar.md")),
        spread=R(paths.report("spread.md")),
        scores=R(paths.report("design_scores.csv")),
        figure=figure(R(paths.report_figure("design")), "design"),
        trained=R(paths.report("trained.md")),
        trained_figure=figure(R(paths.report_figure("design_trained")), "design_trained"),
    params:
        dirs=lambda wc, input: list(dict.fromkeys(os.path.dirname(f) for f in input.outputs)),
        seeds=" ".join(str(t) for t in DESIGN.train_seeds),
        threshold=DESIGN.threshold,
        out=lambda wc, output: os.path.dirname(output.claims),
    log:
        R(paths.log(paths.report("design"))),
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.olmix design-report --dirs {{params.dirs:q}} --threshold {{params.threshold}} "
        "--train-seeds {params.seeds} --out {params.out:q} > {log:q} 2>&1"
