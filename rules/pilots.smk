# Pilot sweeps. Static: one run per grid mixture (grid search, DML, the static law's fidelity). Dynamic:
# a parent stopped at a break step with its full state, then one short child per grid mixture resumed from it
# (the dynamic law's fidelity). Each pilot is its own job, so a cluster runs them in parallel.


rule pilot:
    input:
        lambda wc: group_data(PROJECT.settings[wc.setting].groups),
    output:
        run=f"{RESULTS}/{{setting}}/pilots/grid/seed{{seed}}/mix{{k}}/run.json",
        curve=f"{RESULTS}/{{setting}}/pilots/grid/seed{{seed}}/mix{{k}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/pilots/grid/seed{{seed}}/mix{{k}}/mixture.csv",
    params:
        spec=lambda wc: spec_json(PROJECT.pilot_spec(wc.setting, int(wc.seed), int(wc.k))),
        out_dir=lambda wc: pilot_dir(wc.setting, wc.seed, wc.k),
    log:
        f"{RESULTS}/logs/{{setting}}/pilots/grid/seed{{seed}}/mix{{k}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{setting}}/pilots/grid/seed{{seed}}/mix{{k}}.tsv"
    threads: config["resources"]["train_threads"]
    resources:
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " > {log} 2>&1"


rule dynamic_parent:
    input:
        lambda wc: group_data(PROJECT.settings[wc.setting].groups),
    output:
        run=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/parent/run.json",
        state=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/parent/state.pt",
        curve=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/parent/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/parent/mixture.csv",
    params:
        spec=lambda wc: spec_json(PROJECT.run_spec(wc.setting, "stratified", int(wc.seed))),
        out_dir=lambda wc: dynamic_dir(wc.setting, wc.seed, "parent"),
        until=lambda wc: PROJECT.dynamic_steps(wc.setting)[0],
    log:
        f"{RESULTS}/logs/{{setting}}/pilots/dynamic/seed{{seed}}/parent.log",
    threads: config["resources"]["train_threads"]
    resources:
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " --until {params.until} --save-state > {log} 2>&1"


rule dynamic_child:
    input:
        data=lambda wc: group_data(PROJECT.settings[wc.setting].groups),
        state=rules.dynamic_parent.output.state,
    output:
        run=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/child{{k}}/run.json",
        curve=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/child{{k}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/pilots/dynamic/seed{{seed}}/child{{k}}/mixture.csv",
    params:
        spec=lambda wc: spec_json(PROJECT.dynamic_child_spec(wc.setting, int(wc.seed), int(wc.k))),
        out_dir=lambda wc: dynamic_dir(wc.setting, wc.seed, f"child{wc.k}"),
        until=lambda wc: PROJECT.dynamic_steps(wc.setting)[1],
    log:
        f"{RESULTS}/logs/{{setting}}/pilots/dynamic/seed{{seed}}/child{{k}}.log",
    threads: config["resources"]["train_threads"]
    resources:
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " --init-state {input.state} --until {params.until} > {log} 2>&1"
