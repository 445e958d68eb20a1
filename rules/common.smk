# Config validation, wildcard constraints, input functions and path helpers. No library logic here.
import dataclasses
import json
import os
import re
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# Steps run as `python -m pipeline_lib...`; make the package importable wherever the job runs.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.data.sources import DataError, make_source
from pipeline_lib.methods import ALL_METHODS, METHODS, SELECTED, fit_name

validate(config, os.path.join(workflow.basedir, "config", "config.schema.yaml"))
try:
    PROJECT = load_project(config, known_methods=set(ALL_METHODS))
    _source = make_source(PROJECT.data)
    for _group in PROJECT.tokenizer_groups:
        _source.check_group(_group)
except (ConfigError, DataError) as err:
    raise WorkflowError(str(err)) from None

PY = sys.executable
RESULTS = config["results_dir"]
DATA = f"{RESULTS}/data"
SPLITS = ("train", "val", "test")
# Every training job (final runs, pilots, dynamic-law parents and children) runs this step.
TRAIN_CMD = (
    f"{PY} -m pipeline_lib.train.run --spec {{params.spec:q}} --data-dir {DATA} "
    "--out-dir {params.out_dir} --threads {threads}"
)
TRAIN_RESOURCES = dict(
    gpu=config["resources"]["gpus_per_run"],
    mem_mb=config["resources"]["train_mem_mb"],
    runtime=config["resources"]["train_runtime_min"],
)


# Settings include the restricted views ("as/restricted"); methods include Aioli + X ("aioli+dml").
BASE_SETTINGS = "|".join(re.escape(n) for n, s in PROJECT.settings.items() if not s.restricted)
RESTRICTED_SETTINGS = "|".join(re.escape(n) for n, s in PROJECT.settings.items() if s.restricted) or "(?!)"
# Grid search reuses its best pilot as its run only when pilots are as long as the final run.
SELECT_GS_SETTINGS = "|".join(re.escape(n) for n in PROJECT.settings if PROJECT.pilots_are_runs(n)) or "(?!)"


wildcard_constraints:
    setting="|".join(map(re.escape, PROJECT.settings)),
    method="|".join(map(re.escape, METHODS)),
    group="|".join(PROJECT.tokenizer_groups),
    seed=r"\d+",
    k=r"\d+",


def data_json():
    """The data block (defaults filled in) as one JSON argument."""
    return json.dumps(dataclasses.asdict(PROJECT.data), sort_keys=True)


def source_files(groups):
    return [str(path) for g in groups for path in _source.input_files(g)]


def train_token_budget(group):
    """Train tokens the pack step takes for ``group``: the longest run of any setting using it (steps x batch
    x context) times data.source.train_token_margin; None (take everything) when no margin is set."""
    margin = PROJECT.data.source.train_token_margin
    runs = [
        s.train.steps * s.train.batch_size * s.model.context
        for s in PROJECT.settings.values()
        if group in s.groups
    ]
    return round(max(runs) * margin) if margin is not None and runs else None


def pack_budget_arg(wildcards):
    budget = train_token_budget(wildcards.group)
    return f"--train-token-budget {budget}" if budget is not None else ""


# One GPU per training job on a local multi-GPU machine: with a `gpu` limit (profiles/local-gpu sets
# `resources: [gpu=N]`), each train step takes a free GPU among N and pins itself to it (train/gpu_slot.py).
_gpu_limit = getattr(workflow.global_resources.get("gpu"), "value", None)
if config["resources"]["gpus_per_run"] and isinstance(_gpu_limit, int) and _gpu_limit > 0:
    os.environ.setdefault("MIXPIPE_GPU_SLOTS", str(_gpu_limit))


def group_data(groups):
    return [f"{DATA}/{g}/{name}" for g in groups for name in ("meta.json", *(f"{s}.bin" for s in SPLITS))]


def run_dir(setting, method, seed):
    return f"{RESULTS}/{setting}/runs/{method}/seed{seed}"


def fit_file(setting, name, seed):
    return f"{RESULTS}/{setting}/fits/{name}/seed{seed}.json"


def pilot_dir(setting, seed, k):
    return f"{RESULTS}/{setting}/pilots/grid/seed{seed}/mix{k}"


def pilot_runs(setting, seed):
    n = len(PROJECT.pilot_mixtures(setting, int(seed)))
    return [f"{pilot_dir(setting, seed, k)}/run.json" for k in range(n)]


def dynamic_dir(setting, seed, name):
    return f"{RESULTS}/{setting}/pilots/dynamic/seed{seed}/{name}"


def dynamic_children(setting, seed):
    n = len(PROJECT.pilot_mixtures(setting, int(seed)))
    return [f"{dynamic_dir(setting, seed, f'child{k}')}/run.json" for k in range(n)]


def method_fit(wildcards):
    """The fit file a method's final run reads ([] for methods that need none)."""
    name = fit_name(wildcards.method)
    return [fit_file(wildcards.setting, name, wildcards.seed)] if name else []


def spec_json(spec):
    return json.dumps(spec.to_dict(), sort_keys=True)


def run_spec_json(wildcards):
    spec = PROJECT.run_spec(wildcards.setting, wildcards.method, int(wildcards.seed))
    for path in method_fit(wildcards):
        spec = dataclasses.replace(spec, method_params={**spec.method_params, "fit_path": path})
    return spec_json(spec)


def setting_runs(setting):
    return [
        f"{run_dir(setting, m, s)}/run.json" for m in PROJECT.methods_of(setting) for s in PROJECT.seeds
    ]


def report_outputs(*names):
    """results/report/<name>.{csv,md,tex} for each table name, as named outputs; the CSV goes into the
    HTML report (`snakemake --report`) with the caption report/<name>.rst."""
    outputs = {}
    for name in names:
        for ext in ("csv", "md", "tex"):
            path = f"{RESULTS}/report/{name}.{ext}"
            if ext == "csv":
                path = report(path, caption=f"../report/{name}.rst", category="Tables")
            outputs[f"{name}_{ext}"] = path
    return outputs


def figure(path, name, setting=None):
    """A figure output that goes into the HTML report with the caption report/<name>.rst."""
    return report(path, caption=f"../report/{name}.rst", category="Figures", subcategory=setting or "all")


def final_targets():
    targets = [f"{RESULTS}/{s}/tables/perplexity.md" for s in PROJECT.run_settings]
    targets.append(f"{RESULTS}/report/table2.md")
    if PROJECT.restricted_settings:
        targets += [f"{RESULTS}/{s}/tables/perplexity.md" for s in PROJECT.restricted_settings]
        targets.append(f"{RESULTS}/report/table3.md")
    targets += [f"{RESULTS}/{s}/figures/{f}.png" for s in PROJECT.run_settings for f in ("mixtures", "val_loss")]
    targets += [f"{RESULTS}/{s}/figures/mixtures.png" for s in PROJECT.restricted_settings]
    targets.append(f"{RESULTS}/report/figures/avg_ppl.png")
    if PROJECT.law_fidelity:
        targets += [f"{RESULTS}/{s}/figures/law_fit.png" for s in PROJECT.run_settings]
        targets += [f"{RESULTS}/{s}/tables/fidelity.md" for s in PROJECT.run_settings]
        targets.append(f"{RESULTS}/report/fidelity.md")
    return targets
