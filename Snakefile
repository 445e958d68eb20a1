# mixpipe: language-model data-mixing experiments (Aioli, Olmix) from one command.
#   snakemake                                  # the embedded default (config.yaml): shipped corpus, tiny GPT, CPU
#   snakemake --configfile config.yaml config/sample-full.yaml
#   snakemake --workflow-profile profiles/slurm --configfile config/paper/base.yaml config/paper/as.yaml
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default; a --configfile replaces it (it does not merge into it), so a test or paper
# config never inherits the default's settings. Overlays: --configfile config.yaml config/sample-full.yaml
# Every config file is untrusted input (pipeline_lib/config/yamlfile.py): a malformed file, a key given twice
# or YTE templating (`__use_yte__`: Python code in the file) stops here with the file and line. config.yaml is
# checked before it is loaded; a --configfile is loaded (and a YTE template in it evaluated) by Snakemake's
# command line before this file runs, so it is checked after, and its syntax errors are Snakemake's own.
from snakemake.exceptions import WorkflowError

from pipeline_lib.config import ConfigError
from pipeline_lib.config.yamlfile import check_yaml_file

try:
    for _file in workflow.overwrite_configfiles or ["config.yaml"]:
        check_yaml_file(_file, evaluated=bool(workflow.overwrite_configfiles))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "report/workflow.rst"


# Every step's software: each rule's `conda:` (environment.yml) under --software-deployment-method conda, or
# this image (built from the Dockerfile) under --software-deployment-method apptainer.
container: "docker-daemon://mixpipe:0.1.0"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/fits.smk"
include: "rules/swarm.smk"
include: "rules/report.smk"


if PROJECT.reuse:

    include: "rules/reuse.smk"


if PROJECT.design:

    include: "rules/design.smk"


# One workflow at a time per results_dir (pipeline_lib/results_lock.py): taken when jobs are about to run, so
# not for a dry run, --list or --report, nor in the jobs Snakemake spawns (--no-hooks); held until it exits.
# Then the results_dir records its data (<results_dir>/data/data.json; rules/common.smk refuses other data).
onstart:
    from pipeline_lib.data_identity import write_data_identity
    from pipeline_lib.results_lock import ResultsDirLocked, lock_results_dir

    try:
        lock_results_dir(RESULTS)
    except ResultsDirLocked as err:
        raise WorkflowError(str(err)) from None
    write_data_identity(RESULTS, DATA_IDENTITY, CONFIG_FILES)  # checked when this file loaded
    # A progress line every MIXPIPE_PROGRESS_EVERY seconds (pipeline_lib/progress.py): jobs, ETA, losses;
    # the ETA prices the training jobs by their FLOPs, the design analyses by their fits (keyed as the log
    # names them: a training job by its `job` wildcard, an analysis by its output folder).
    from pipeline_lib.progress import Work, every_seconds, start_reporter, write_work

    design = {R(folder): work for folder, work in PLAN.design_work().items()}
    write_work(Work({"train": PLAN.train_work(), "design_swarm": design}))
    start_reporter(log, logger.info, every_seconds())
    start_launcher()


onsuccess:
    stop_launcher()


onerror:
    stop_launcher()


rule all:
    default_target: True
    input:
        final_targets(),
