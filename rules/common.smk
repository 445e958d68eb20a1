# Config validation, wildcard constraints, input functions and path helpers. No library logic here.
import dataclasses
import json
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# Steps run as `python -m pipeline_lib...`; make the package importable wherever the job runs.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pipeline_lib.config import ConfigError, load_project
from pipeline_lib.data.sources import DataError, make_source
from pipeline_lib.methods import METHODS

validate(config, os.path.join(workflow.basedir, "config", "config.schema.yaml"))
try:
    PROJECT = load_project(config, known_methods=set(METHODS))
    _source = make_source(PROJECT.data)
    for _group in PROJECT.tokenizer_groups:
        _source.check_group(_group)
except (ConfigError, DataError) as err:
    raise WorkflowError(str(err)) from None

PY = sys.executable
RESULTS = config["results_dir"]
DATA = f"{RESULTS}/data"
SPLITS = ("train", "val", "test")


wildcard_constraints:
    setting="|".join(PROJECT.settings),
    method="|".join(METHODS),
    group="|".join(PROJECT.tokenizer_groups),
    seed=r"\d+",


def data_json():
    """The data block (defaults filled in) as one JSON argument."""
    return json.dumps(dataclasses.asdict(PROJECT.data), sort_keys=True)


def source_files(groups):
    return [str(path) for g in groups for path in _source.input_files(g)]


def group_data(groups):
    return [f"{DATA}/{g}/{name}" for g in groups for name in ("meta.json", *(f"{s}.bin" for s in SPLITS))]


def run_dir(setting, method, seed):
    return f"{RESULTS}/{setting}/runs/{method}/seed{seed}"


def run_spec_json(wildcards):
    spec = PROJECT.run_spec(wildcards.setting, wildcards.method, int(wildcards.seed))
    return json.dumps(spec.to_dict(), sort_keys=True)


def setting_runs(setting):
    return [
        f"{run_dir(setting, m, s)}/run.json" for m in PROJECT.run_methods for s in PROJECT.seeds
    ]


def final_targets():
    tables = [f"{RESULTS}/{s}/tables/perplexity.md" for s in PROJECT.run_settings]
    return tables + [f"{RESULTS}/report/perplexity.md"]
