# Final training runs: one job per (setting, method, seed), all through the one trainer.


rule train:
    input:
        lambda wc: group_data(PROJECT.settings[wc.setting].groups),
    output:
        run=f"{RESULTS}/{{setting}}/runs/{{method}}/seed{{seed}}/run.json",
        curve=f"{RESULTS}/{{setting}}/runs/{{method}}/seed{{seed}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/runs/{{method}}/seed{{seed}}/mixture.csv",
    params:
        spec=run_spec_json,
        out_dir=lambda wc: run_dir(wc.setting, wc.method, wc.seed),
    log:
        f"{RESULTS}/logs/{{setting}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{setting}}/{{method}}/seed{{seed}}.tsv"
    threads: lambda wc: config["resources"]["train_threads"]
    resources:
        gpu=config["resources"]["gpus_per_run"],
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime_min"],
    shell:
        f"{PY} -m pipeline_lib.train.run --spec {{params.spec:q}} --data-dir {DATA} "
        "--out-dir {params.out_dir} --threads {threads} > {log} 2>&1"
