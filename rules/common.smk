# Snakemake glue: config validation, wildcard constraints and named `get_*` input functions. What runs where
# is the planner's (pipeline_lib/plan.py); no library logic here.
import dataclasses
import json
import os
import re
import shlex
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

# Steps run as `python -m pipeline_lib...`: every job's shell makes the package importable (in the venv, a
# conda environment or a container alike) and keeps the tokenizers library from forking threads.
sys.path.insert(0, workflow.basedir)
shell.prefix(  # Snakemake formats the prefix: doubled braces are the shell's
    f"export PYTHONPATH={shlex.quote(workflow.basedir)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    "export TOKENIZERS_PARALLELISM=${{TOKENIZERS_PARALLELISM:-false}}; "
)

from pipeline_lib.config import RESTRICTED, ConfigError, load_project
from pipeline_lib.config.effective import summary as effective_summary
from pipeline_lib.config.names import results_dir_problems
from pipeline_lib.config.types import EXECUTION_ENV, PACK_CHECKS_ENV
from pipeline_lib.config.registry import METHODS, PROXY, fit_step
from pipeline_lib.data.sources import DataError, make_source
from pipeline_lib.data_identity import DataMismatch, check_data_identity, data_identity
from pipeline_lib.plan import Planner, paths

SCHEMA = os.path.join(workflow.basedir, "config", "config.schema.yaml")


_SCHEMA_FIXES = {"additionalProperties": "remove the key or correct its name", "required": "add it"}


def _schema_problem(err):
    """One paragraph for a schema violation: the failing key path, jsonschema's message and the fix
    (Snakemake's own WorkflowError appends the whole schema and config, ~600 lines)."""
    where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in err.absolute_path).lstrip(".")
    fix = _SCHEMA_FIXES.get(err.validator, "correct the value")
    return (
        f"invalid configuration: {where or 'top level'}: {err.message}; {fix} "
        "(config/config.schema.yaml lists every key with its type and allowed values)"
    )


def _validate_config(config):
    """Snakemake's schema validation (it also fills the schema's defaults), with a short message."""
    try:
        validate(config, SCHEMA)
    except WorkflowError as err:
        cause = err.__context__  # validate raises WorkflowError(..., e) inside `except ValidationError as e`
        if not isinstance(cause, jsonschema.ValidationError):
            raise
        raise WorkflowError(_schema_problem(cause)) from None


def _differs_from_default(config):
    """The effective settings of ``config`` that differ from config.yaml's, as lines ('' when none does, or
    when the workflow has no config.yaml of its own: a deployed copy run with a user's config only)."""
    path = Path(workflow.basedir, "config.yaml")
    if not path.is_file():
        return ""
    default = yaml.safe_load(path.read_text(encoding="utf-8"))
    _validate_config(default)
    return effective_summary(config, default, config_files())


def config_files():
    """The --configfile files as given (relative to the working directory when under it); [] for none."""
    files = [Path(f).resolve() for f in workflow.overwrite_configfiles]
    return [str(f.relative_to(Path.cwd())) if f.is_relative_to(Path.cwd()) else str(f) for f in files]


_validate_config(config)
try:
    if _problems := results_dir_problems(config["results_dir"], Path.cwd()):
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(_problems))
    PROJECT = load_project(config)
    _source = make_source(PROJECT.data)
    for _group in PROJECT.tokenizer_groups:
        _source.check_group(_group)
    for _parent, _parts in PROJECT.data.partitions.items():
        _source.check_partition(_parent, _parts)
except (ConfigError, DataError) as err:
    raise WorkflowError(str(err)) from None

PLAN = Planner(PROJECT)
TASK_SET = PLAN.downstream_eval("test").task_set if PROJECT.tasks is not None else None
"""The downstream task set's directory under data/tasks/ (`tasks:`; None: off)."""
RESULTS = config["results_dir"]
# One corpus per results_dir (pipeline_lib/data_identity.py): checked here (a dry run too), recorded by onstart.
CONFIG_FILES = [str(Path(f).resolve()) for f in config_files() or ["config.yaml"]]
DATA_IDENTITY = data_identity(PROJECT.data.source, PROJECT.tokenizer_groups)
try:
    check_data_identity(RESULTS, DATA_IDENTITY, CONFIG_FILES)
except DataMismatch as err:
    raise WorkflowError(str(err)) from None
# What this run sets otherwise than the demo's config.yaml (a --configfile replaces it), before any job.
if workflow.is_main_process and (_changed := _differs_from_default(config)):
    logger.info(_changed)
# resources.gpus_per_run > 1: each run trains data-parallel over that many GPUs (torchrun; pipeline_lib/parallel.py)
GPUS_PER_RUN = config["resources"]["gpus_per_run"]
# a data-parallel job starts its ranks from a launcher that does not import torch (pipeline_lib/train/ranks.py)
TRAIN_STEP = (
    f"pipeline_lib.train.ranks --ranks {GPUS_PER_RUN}" if GPUS_PER_RUN > 1 else "pipeline_lib.train.run"
)
if GPUS_PER_RUN > 1 and (_problems := PLAN.data_parallel_problems(GPUS_PER_RUN)):
    raise WorkflowError("resources.gpus_per_run:\n  - " + "\n  - ".join(_problems))
# The Python that runs the steps: `python` from PATH, so no job's recorded command names this checkout's
# interpreter (results moved with .snakemake/ to another checkout rerun nothing). Without a deployment method
# that is this interpreter: its folder (the venv's bin) goes first on the jobs' PATH; with one, the
# environment's own.
# Each step runs through pipeline_lib.launcher: in a local workflow a fork server (started by onstart) that has
# imported torch once forks the step, saving the interpreter's start-up and imports per job; elsewhere, or with
# resources.fork_server false, the launcher execs `python -m <module>` as before. Same code, same numbers.
PY = "python -m pipeline_lib.launcher"
_LAUNCHER = {}


def start_launcher():
    """onstart: a fork server for the one-thread steps of a local run (resources.fork_server, default on): the
    caller's where it names one (launcher.SHARED_ENV), else one of this run's own."""
    from pipeline_lib.fork_server import start_server
    from pipeline_lib.launcher import ENV, SHARED_ENV

    if config["resources"]["fork_server"] and workflow.local_exec and sys.platform.startswith("linux"):
        if os.environ.get(SHARED_ENV):
            os.environ[ENV] = os.environ[SHARED_ENV]
            return
        pythonpath = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
        handle = start_server(R(paths.log("launcher")), pythonpath=pythonpath)  # as shell.prefix exports it
        _LAUNCHER["handle"] = handle
        os.environ[ENV] = handle.address


def stop_launcher():
    from pipeline_lib.fork_server import stop_server
    from pipeline_lib.launcher import ENV

    os.environ.pop(ENV, None)
    if "handle" in _LAUNCHER:
        stop_server(_LAUNCHER.pop("handle"))


_path = os.get_exec_path()  # PATH's folders
if not workflow.deployment_settings.deployment_method and _path[:1] != [os.path.dirname(sys.executable)]:
    os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), *_path]))
logger.info(f"results_dir: {Path(RESULTS).resolve()}")
DATA = f"{RESULTS}/{paths.DATA}"
VIEW = "{setting}{view}"  # the pattern of a view's key in outputs


def R(path):
    """A path of the results layout (pipeline_lib/plan/paths.py) under the results directory."""
    return f"{RESULTS}/{path}"


def results(paths_):
    return [R(p) for p in paths_]


def _alternatives(values):
    """An escaped regex alternation (one that matches nothing when empty)."""
    return "|".join(re.escape(v) for v in values) or "(?!)"


# A view is a setting ({setting}) and its restricted part ({view}: empty, or a slash and "restricted");
# {job} is one training job's directory.
wildcard_constraints:
    setting=_alternatives(s.name for s in PROJECT.settings.values() if not s.view),
    view=rf"|\/{re.escape(RESTRICTED)}",
    group=_alternatives(PROJECT.tokenizer_groups),
    seed=r"\d+",


def view_of(wildcards):
    """The view key ("as", "as/restricted") of a rule's {setting}{view} wildcards."""
    return wildcards.setting + wildcards.view


def data_json():
    """The data block (defaults filled in) as one JSON argument; no views or partitions, no keys for them
    (so a config without them keeps the data steps' parameters, and their outputs, as they were)."""
    data = {
        k: v for k, v in dataclasses.asdict(PROJECT.data).items() if v or k not in ("views", "partitions")
    }
    data["source"] = PROJECT.data.source.as_dict()
    return json.dumps(data, sort_keys=True)


def source_files(groups):
    """The corpus files of ``groups``, each once (views share their parent's files)."""
    return list(dict.fromkeys(str(path) for g in groups for path in _source.input_files(g)))


def group_data(groups):
    return [R(f) for g in groups for f in paths.group_files(g)]


def get_pack_budget(wildcards):
    """--one-batch-tokens N, and --train-token-budget N with data.source.train_token_margin."""
    budget = PLAN.train_token_budget(wildcards.group, PROJECT.data.source.train_token_margin)
    batch = f"--one-batch-tokens {PLAN.one_batch_tokens(wildcards.group)}"
    return f"--train-token-budget {budget} {batch}" if budget is not None else batch


# The pack step also checks each group's val and test splits against one evaluation sequence (model.context + 1)
# of the runs reading it. Like the execution settings below, that reaches it through the environment, not its
# params: a check, not what it writes, so it reruns no packed data (set wherever Snakemake parses this file).
os.environ[PACK_CHECKS_ENV] = json.dumps(PLAN.pack_checks(), sort_keys=True)


# One GPU per training job on a local multi-GPU machine: with a `gpu` limit (profiles/local-gpu sets
# `resources: [gpu=N]`), each train step takes a free GPU among N and pins itself to it (train/gpu_slot.py).
_gpu_limit = getattr(workflow.global_resources.get("gpu"), "value", None)
if config["resources"]["gpus_per_run"] and isinstance(_gpu_limit, int) and _gpu_limit > 0:
    os.environ.setdefault("MIXPIPE_GPU_SLOTS", str(_gpu_limit))


# -- training jobs --------------------------------------------------------------------------------------
def get_train_inputs(wildcards):
    """A training job's packed data and its named inputs (a fit, a reference run, a parent run)."""
    job = PLAN.train_jobs[wildcards.job]
    tasks = {"tasks": results(job.downstream_inputs())} if job.downstream else {}
    return {"data": group_data(job.data_groups), **{k: R(v) for k, v in job.inputs().items()}, **tasks}


def get_task_files(wildcards):
    """The request files a task set's split is tokenised from (the task_rows rule)."""
    downstream = PLAN.downstream_eval(wildcards.split)
    return list(downstream.files) + results(downstream.results_files())


def get_task_rows_arg(wildcards):
    return PLAN.downstream_eval(wildcards.split).arg(RESULTS, cached=False)


def get_train_spec(wildcards):
    """What defines the run's numbers; how it executes reaches the job through the environment, below."""
    return json.dumps(PLAN.train_jobs[wildcards.job].spec.identity(), sort_keys=True)


# How runs execute (train.device, compile, checkpoint_every, tensorboard, ...: the fields TrainConfig marks as
# execution) is no part of a job's spec or params, so changing it reruns nothing: each job reads its view's
# settings from this variable (set again wherever Snakemake parses this file, a cluster job included).
_execution = {key: s.train.execution() for key, s in PROJECT.settings.items()}
os.environ.update({EXECUTION_ENV: json.dumps(_execution, sort_keys=True)})


def get_train_args(wildcards):
    return PLAN.train_jobs[wildcards.job].args(RESULTS)


def get_final_runs(wildcards):
    return results(PLAN.final_runs(view_of(wildcards)))


def fit_file(view, name, seed):
    return R(paths.fit_file(view, name, seed))


# -- fit steps: every method's, from its registry declaration -------------------------------------------
FIT_STEPS = list(
    dict.fromkeys(name for view in [*PLAN.views, *PLAN.design_views] for name in PLAN.fit_steps(view))
)


def get_fit_inputs(wildcards):
    inputs = PLAN.fit_inputs(view_of(wildcards), wildcards.fit, wildcards.seed)
    return {name: results(files) for name, files in inputs.items()}


def get_fit_argv(wildcards, output):
    """The fit step's arguments, each quoted for the shell."""
    inputs = get_fit_inputs(wildcards)
    return shlex.join(PLAN.fit_argv(view_of(wildcards), wildcards.fit, wildcards.seed, inputs, output.fit))


# -- report inputs ---------------------------------------------------------------------------------------
def _declared(flag, value, methods):
    """The methods (registry order) whose declaration has ``flag == value``, among ``methods``."""
    return [m for m, entry in METHODS.items() if getattr(entry, flag) == value and m in methods]


# Online methods whose own A^t is compared with the fitted dynamic law (parameter similarity): final runs
# or fits, as each method declares (traces_A); the static law scored is the method declaring static_law.
SIMILARITY_RUNS = _declared("traces_A", "run", PROJECT.run_methods)
SIMILARITY_FITS = _declared("traces_A", "fit", PROJECT.run_methods)
STATIC_LAW = _declared("static_law", True, METHODS)[0]


def get_similarity_inputs(wildcards):
    runs = [f"{R(paths.run_dir(wildcards.setting, m, wildcards.seed))}/run.json" for m in SIMILARITY_RUNS]
    return runs + [fit_file(wildcards.setting, m, wildcards.seed) for m in SIMILARITY_FITS]


def get_paper_args():
    """--paper setting=column for every run setting that stands for a paper column; --same-data on SlimPajama."""
    pairs = [f"{s}={PROJECT.settings[s].paper}" for s in PROJECT.run_settings if PROJECT.settings[s].paper]
    pairs = [shlex.quote(pair) for pair in pairs]
    same = " --same-data" if PROJECT.data.source.kind == "slimpajama" else ""
    return f"--paper {' '.join(pairs)}{same}" if pairs else ""


def get_proxy_fits(wildcards):
    """The proxies' fits (their weight traces), for the mixture figure."""
    view = view_of(wildcards)
    owners = _declared("learns_on", PROXY, PROJECT.methods_of(view))
    return [fit_file(view, m, seed) for m in owners for seed in PROJECT.seeds]


def law_table_methods(view):
    """The methods the law table sets side by side: those it is made for, then their peers."""
    methods = PROJECT.methods_of(view)
    return _declared("law_table", "own", methods) + _declared("law_table", "peer", methods)


def get_law_table_fits(wildcards):
    view = view_of(wildcards)
    return [fit_file(view, m, seed) for seed in PROJECT.seeds for m in law_table_methods(view)]


def get_priors_natural(wildcards):
    """--natural '<json>' when the config gives the natural distribution (else the packed tokens' shares)."""
    natural = PLAN.swarm_config(view_of(wildcards)).natural
    return f"--natural {shlex.quote(json.dumps(natural, sort_keys=True))}" if natural else ""


# -- the mixture-reuse experiment --------------------------------------------------------------------------
REUSE = PROJECT.reuse
REUSE_CHAINS = list(dict.fromkeys(c for t in range(REUSE.n_stages) for c in REUSE.chains(t))) if REUSE else []


def get_reuse_natural(wildcards):
    """A stage's priors: --natural '<json>' over its domains when the swarm's config gives them."""
    stage = int(wildcards.stage)
    natural = PLAN.swarm_config(REUSE.stage_key(stage)).natural
    if not natural:
        return ""
    return (
        f"--natural {shlex.quote(json.dumps({d: natural[d] for d in REUSE.stages[stage]}, sort_keys=True))}"
    )


def get_reuse_link_inputs(wildcards):
    """A link's plan step: the stage's priors and the previous link's fit."""
    previous = PLAN.reuse_previous(wildcards.stage, wildcards.chain, wildcards.seed)
    inputs = {"priors": R(paths.reuse_priors(wildcards.stage))}
    return inputs | ({"previous": R(previous)} if previous else {})


def get_reuse_fit_inputs(wildcards):
    """A link's fit: the plan (not natural's), the previous fit, the new proxies' runs."""
    inputs = get_reuse_link_inputs(wildcards)
    if wildcards.chain != "natural":
        inputs["plan"] = f"{R(PLAN.reuse_dir(wildcards.stage, wildcards.chain, wildcards.seed))}/plan.json"
    return inputs | {"runs": results(PLAN.reuse_runs(wildcards.stage, wildcards.chain, wildcards.seed))}


def get_reuse_link_args(wildcards, input):
    """The flags every link step takes: the experiment, the stage, chain and seed, priors, previous fit."""
    cfg = PLAN.swarm_config(REUSE.stage_key(int(wildcards.stage)))
    args = [
        f"--experiment {shlex.quote(json.dumps(config['reuse'], sort_keys=True))}",
        f"--stage {wildcards.stage} --strategy {wildcards.chain} --seed {wildcards.seed}",
        f"--priors {shlex.quote(input.priors)} --config {shlex.quote(json.dumps(cfg.to_dict(), sort_keys=True))}",
    ]
    previous = [f"--previous {shlex.quote(input.previous)}"] if "previous" in input.keys() else []
    return " ".join(args + previous)


def get_reuse_fits(wildcards):
    """Every link's fit.json (the table's stage-by-stage accounting and mixtures)."""
    return [
        f"{R(PLAN.reuse_dir(t, chain, seed))}/fit.json"
        for t in range(REUSE.n_stages)
        for chain in REUSE.chains(t)
        for seed in REUSE.seeds
    ]


# -- the design-space experiment ----------------------------------------------------------------------------
DESIGN = PROJECT.design


def get_design_trained_runs(wildcards):
    """Every design swarm's trained mixtures' run.json files (natural, its best run, the proposals)."""
    return [
        R(f"{paths.design_dir(s, seed)}/{paths.design_trained_run(k, t)}/run.json")
        for s in DESIGN.settings
        for seed in DESIGN.seeds
        for k in range(DESIGN.n_trained)
        for t in DESIGN.train_seeds
    ]


def get_design_inputs(wildcards):
    """One design swarm's proxies' run.json files and its priors."""
    runs = PLAN.learning_runs(paths.SWARM, wildcards.dsetting, wildcards.seed)
    return {"runs": results(runs), "priors": R(paths.priors_file(wildcards.dsetting))}


def report_outputs(*names):
    """results/report/<name>.{csv,md,tex,html} for each table name, as named outputs; the HTML goes into the
    HTML report (`snakemake --report`), shown inline, with the caption report/<name>.rst, in its "Summary"
    category (one click from the first page: the tables over every setting)."""
    outputs = {}
    for name in names:
        for ext in ("csv", "md", "tex", "html"):
            path = R(paths.report(f"{name}.{ext}"))
            if ext == "html":
                path = report(
                    path, caption=f"../report/{name}.rst", category="Summary", labels={"table": name}
                )
            outputs[f"{name}_{ext}"] = path
    return outputs


def setting_report(path, name, setting="{setting}{view}"):
    """A per-setting table or figure in the HTML report, labelled by setting (not by its path)."""
    category = "Tables" if path.endswith(".html") else "Figures"
    labels = {"table" if category == "Tables" else "figure": name, "setting": setting}
    return report(
        path, caption=f"../report/{name}.rst", category=category, subcategory=setting, labels=labels
    )


def figure(path, name, setting=None):
    """A figure output that goes into the HTML report with the caption report/<name>.rst."""
    if setting:
        return setting_report(path, name, setting)
    return report(path, caption=f"../report/{name}.rst", category="Figures", labels={"figure": name})


def fit_figures(path):
    """A fit step's directory whose figures (``<name>.png``) go into the HTML report, one entry per figure,
    labelled by figure, setting, method and seed, with the caption report/fit_figures.rst."""
    return report(
        path,
        patterns=["{name}.png"],
        caption="../report/fit_figures.rst",
        category="Figures",
        subcategory=VIEW,
        labels={"figure": "{fit} {name}", "setting": VIEW, "method": "{fit}", "seed": "seed{seed}"},
    )


# -- exported mixtures: one per final run -----------------------------------------------------------------
FINAL_METHODS = list(dict.fromkeys(m for view in PLAN.views for m in PROJECT.methods_of(view)))


def mixture_files():
    """results/<view>/mixtures/<method>/seed<n>.{json,yaml} of every final run."""
    return [
        R(paths.mixture_file(view, m, seed, ext))
        for view in PLAN.views
        for m in PROJECT.methods_of(view)
        for seed in PROJECT.seeds
        for ext in ("json", "yaml")
    ]


def run_records():
    """Every planned training job's run.json and every final run's (a selected pilot's copy too). They are
    targets themselves: Snakemake does not rebuild a missing file that only an up-to-date output needs, so a
    run.json deleted under a finished workflow would stay missing while the tables still cite it."""
    jobs = [paths.run_outputs(job)["run"] for job in PLAN.train_jobs]
    finals = [run for view in PLAN.views for run in PLAN.final_runs(view)]
    return results(dict.fromkeys([*jobs, *finals]))


def final_targets():
    targets = run_records()
    targets += [R(paths.reuse_report("reuse.md"))] if REUSE else []
    targets += [R(paths.report("claims.md"))] if PROJECT.design else []
    if not PROJECT.run_settings or not PROJECT.run_methods:
        return targets
    targets += mixture_files()
    run, restricted = PROJECT.run_settings, PROJECT.restricted_settings
    targets += [R(paths.table(s, "perplexity.md")) for s in run]
    targets.append(R(paths.report("table2.md")))
    if restricted:
        targets += [R(paths.table(s, "perplexity.md")) for s in restricted]
        targets.append(R(paths.report("table3.md")))
    targets += [R(paths.figure(s, f)) for s in run for f in ("mixtures", "val_loss")]
    targets += [R(paths.figure(s, "mixtures")) for s in restricted]
    targets.append(R(paths.report_figure("avg_ppl")))
    targets.append(R(paths.report("claims.md")))
    own_table = [s for s in run if _declared("law_table", "own", PROJECT.methods_of(s))]
    targets += [R(paths.table(s, f"{paths.LAW_TABLE}.md")) for s in own_table]
    if PROJECT.law_fidelity:
        targets += [R(paths.figure(s, "law_fit")) for s in run]
        targets += [R(paths.table(s, "fidelity.md")) for s in run]
        targets.append(R(paths.report("fidelity.md")))
    return targets
