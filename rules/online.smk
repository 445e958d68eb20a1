# Online baselines. Skill-It: one-hot pilot runs -> skills graph -> the online final run (rule train).
# DoReMi: the stratified run doubles as the reference (it saves state.pt; restricted: a shortened stratified
# pilot) -> proxy -> time-averaged weights -> final static run. DoGE: proxy -> weights -> final static run.
from pipeline_lib.methods.proxy import proxy_spec, reference_spec
from pipeline_lib.methods.skillit import onehot_spec


def onehot_runs(setting, seed):
    return [
        f"{RESULTS}/{setting}/pilots/onehot/seed{seed}/{g}/run.json" for g in PROJECT.settings[setting].groups
    ]


def reference_dir(setting, seed):
    """DoReMi's reference run: the stratified final run, or (restricted) a shortened pilot."""
    if PROJECT.settings[setting].restricted:
        return f"{RESULTS}/{setting}/pilots/reference/seed{seed}"
    return run_dir(setting, "stratified", seed)


def reference_input(name):
    return lambda wc: [f"{reference_dir(wc.setting, wc.seed)}/{name}"] if wc.proxy == "doremi" else []


def proxy_spec_json(wildcards):
    spec = proxy_spec(PROJECT, wildcards.setting, wildcards.proxy, int(wildcards.seed))
    if wildcards.proxy == "doremi":
        reference = f"{reference_dir(wildcards.setting, wildcards.seed)}/state.pt"
        spec = dataclasses.replace(spec, method_params={**spec.method_params, "reference_path": reference})
    return spec_json(spec)


rule onehot_pilot:
    input:
        lambda wc: group_data(PROJECT.settings[wc.setting].groups),
    output:
        run=f"{RESULTS}/{{setting}}/pilots/onehot/seed{{seed}}/{{group}}/run.json",
        curve=f"{RESULTS}/{{setting}}/pilots/onehot/seed{{seed}}/{{group}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/pilots/onehot/seed{{seed}}/{{group}}/mixture.csv",
    params:
        spec=lambda wc: spec_json(onehot_spec(PROJECT, wc.setting, int(wc.seed), wc.group)),
        out_dir=lambda wc: f"{RESULTS}/{wc.setting}/pilots/onehot/seed{wc.seed}/{wc.group}",
    log:
        f"{RESULTS}/logs/{{setting}}/pilots/onehot/seed{{seed}}/{{group}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{setting}}/pilots/onehot/seed{{seed}}/{{group}}.tsv"
    threads: config["resources"]["train_threads"]
    resources:
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " > {log} 2>&1"


rule fit_skillit:
    input:
        lambda wc: onehot_runs(wc.setting, wc.seed),
    output:
        f"{RESULTS}/{{setting}}/fits/skillit/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/skillit/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.methods.skillit --runs {{input}} --out {{output}} > {{log}} 2>&1"


if "doremi" in PROJECT.run_methods:

    # The stratified final run, saving its state: DoReMi's reference model (no second training).
    rule train_reference:
        wildcard_constraints:
            setting=BASE_SETTINGS,
        input:
            data=lambda wc: group_data(PROJECT.settings[wc.setting].groups),
        output:
            run=f"{RESULTS}/{{setting}}/runs/stratified/seed{{seed}}/run.json",
            curve=f"{RESULTS}/{{setting}}/runs/stratified/seed{{seed}}/curve.csv",
            mixture=f"{RESULTS}/{{setting}}/runs/stratified/seed{{seed}}/mixture.csv",
            state=f"{RESULTS}/{{setting}}/runs/stratified/seed{{seed}}/state.pt",
        params:
            spec=lambda wc: spec_json(PROJECT.run_spec(wc.setting, "stratified", int(wc.seed))),
            out_dir=lambda wc: run_dir(wc.setting, "stratified", wc.seed),
        log:
            f"{RESULTS}/logs/{{setting}}/stratified/seed{{seed}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{{setting}}/stratified/seed{{seed}}.tsv"
        threads: config["resources"]["train_threads"]
        resources:
            **TRAIN_RESOURCES,
        shell:
            TRAIN_CMD + " --save-state > {log} 2>&1"

    ruleorder: train_reference > train


# Restricted settings: DoReMi's reference is a stratified pilot with its share of the learning budget.
rule reference_pilot:
    input:
        lambda wc: group_data(PROJECT.settings[wc.setting].groups),
    output:
        run=f"{RESULTS}/{{setting}}/pilots/reference/seed{{seed}}/run.json",
        curve=f"{RESULTS}/{{setting}}/pilots/reference/seed{{seed}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/pilots/reference/seed{{seed}}/mixture.csv",
        state=f"{RESULTS}/{{setting}}/pilots/reference/seed{{seed}}/state.pt",
    wildcard_constraints:
        setting=RESTRICTED_SETTINGS,
    params:
        spec=lambda wc: spec_json(reference_spec(PROJECT, wc.setting, int(wc.seed))),
        out_dir=lambda wc: reference_dir(wc.setting, wc.seed),
    log:
        f"{RESULTS}/logs/{{setting}}/pilots/reference/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{setting}}/pilots/reference/seed{{seed}}.tsv"
    threads: config["resources"]["train_threads"]
    resources:
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " --save-state > {log} 2>&1"


rule proxy:
    input:
        data=lambda wc: group_data(PROJECT.settings[wc.setting].groups),
        reference=reference_input("state.pt"),
    output:
        run=f"{RESULTS}/{{setting}}/pilots/{{proxy}}/seed{{seed}}/run.json",
        curve=f"{RESULTS}/{{setting}}/pilots/{{proxy}}/seed{{seed}}/curve.csv",
        mixture=f"{RESULTS}/{{setting}}/pilots/{{proxy}}/seed{{seed}}/mixture.csv",
    wildcard_constraints:
        proxy="doremi|doge",
    params:
        spec=proxy_spec_json,
        out_dir=lambda wc: f"{RESULTS}/{wc.setting}/pilots/{wc.proxy}/seed{wc.seed}",
    log:
        f"{RESULTS}/logs/{{setting}}/pilots/{{proxy}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{setting}}/pilots/{{proxy}}/seed{{seed}}.tsv"
    threads: config["resources"]["train_threads"]
    resources:
        **TRAIN_RESOURCES,
    shell:
        TRAIN_CMD + " > {log} 2>&1"


rule fit_proxy:
    input:
        proxy=f"{RESULTS}/{{setting}}/pilots/{{proxy}}/seed{{seed}}/run.json",
        reference=reference_input("run.json"),
    output:
        f"{RESULTS}/{{setting}}/fits/{{proxy}}/seed{{seed}}.json",
    wildcard_constraints:
        proxy="doremi|doge",
    params:
        reference=lambda wc, input: f"--reference {input.reference}" if input.reference else "",
    log:
        f"{RESULTS}/logs/{{setting}}/fits/{{proxy}}/seed{{seed}}.log",
    shell:
        f"{PY} -m pipeline_lib.methods.proxy --method {{wildcards.proxy}} --proxy {{input.proxy}} "
        "{params.reference} --out {output} > {log} 2>&1"
