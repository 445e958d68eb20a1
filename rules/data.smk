# Data stage: tokenizer on the train split of every group, then one packed memmap per group and split.


rule tokenizer:
    input:
        source_files(PROJECT.tokenizer_groups),
    output:
        f"{DATA}/tokenizer.json",
    params:
        data=lambda wc: data_json(),  # a function: the JSON holds "{group}" braces
        groups=" ".join(PROJECT.tokenizer_groups),
    log:
        f"{RESULTS}/logs/data/tokenizer.log",
    benchmark:
        f"{RESULTS}/benchmarks/data/tokenizer.tsv"
    threads: 2
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.data.tokenizer --data {{params.data:q}} --groups {{params.groups}} "
        "--out {output} > {log} 2>&1"


rule pack:
    input:
        tokenizer=rules.tokenizer.output[0],
        source=lambda wc: source_files([wc.group]),
    output:
        meta=f"{DATA}/{{group}}/meta.json",
        bins=[f"{DATA}/{{group}}/{s}.bin" for s in SPLITS],
    params:
        data=lambda wc: data_json(),  # a function: the JSON holds "{group}" braces
        out_dir=lambda wc: f"{DATA}/{wc.group}",
        budget=get_pack_budget,  # --one-batch-tokens N [--train-token-budget N]
    log:
        f"{RESULTS}/logs/data/pack_{{group}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/data/pack_{{group}}.tsv"
    conda:
        "../environment.yml"
    shell:
        f"{PY} -m pipeline_lib.data.pack --data {{params.data:q}} --group {{wildcards.group}} "
        "--tokenizer {input.tokenizer} --out-dir {params.out_dir} {params.budget} > {log} 2>&1"
