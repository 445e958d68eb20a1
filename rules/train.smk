# Final training runs: one job per (setting, method, seed), all through the one trainer. Offline methods
# (dml, ...) read the proportions their fit step wrote.


rule train:
    input:
        data=lambda wc: group_data(PROJECT.settings[wc.setting].groups),
        fit=method_fit,
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
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " > {log} 2>&1"
