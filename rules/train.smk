# Every training job (final runs, grid pilots, the dynamic sweep, one-hot runs, proxies, DoReMi's reference)
# runs through this one rule and the one trainer; the planner gives each its spec, inputs and flags.
# A job that saves state.pt (a reference model, a dynamic parent) writes it before run.json, its marker.
# With resources.gpus_per_run > 1, TRAIN_STEP is `pipeline_lib.train.ranks --ranks N`: the run trains
# data-parallel over N GPUs.


rule train:
    input:
        unpack(get_train_inputs),
    output:
        **{k: R(v) for k, v in paths.run_outputs("{job}").items()},
    wildcard_constraints:
        job=PLAN.job_regex(),
    params:
        spec=get_train_spec,
        args=get_train_args,
    log:
        R(paths.log("{job}")),
    benchmark:
        R(paths.benchmark("{job}"))
    threads: config["resources"]["train_threads"]
    resources:
        gpu=config["resources"]["gpus_per_run"],
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime_min"],
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m {TRAIN_STEP} --spec {{params.spec:q}} --data-dir {shlex.quote(DATA)} "
        f"--out-dir {shlex.quote(RESULTS)}/{{wildcards.job:q}} --threads {{threads}} {{params.args}} "
        "> {log:q} 2>&1"
