# mixpipe: language-model data-mixing experiments (Aioli, Olmix) from one command.
#   snakemake                                  # the embedded default (config.yaml): shipped corpus, tiny GPT, CPU
#   snakemake --configfile config.yaml config/sample-full.yaml
#   snakemake --workflow-profile profiles/slurm --configfile config/paper/base.yaml config/paper/as.yaml
from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default; a --configfile replaces it (it does not merge into it), so a test or paper
# config never inherits the default's settings. Overlays: --configfile config.yaml config/sample-full.yaml
# A malformed config.yaml is reported with its line here; a --configfile is read by Snakemake's command line
# before this file runs, so its errors are Snakemake's own ("not valid JSON or YAML", "not found").
if not workflow.overwrite_configfiles:
    from snakemake.exceptions import WorkflowError

    from pipeline_lib.config import ConfigError
    from pipeline_lib.config.load import check_yaml_file

    try:
        check_yaml_file("config.yaml")
    except ConfigError as err:
        raise WorkflowError(str(err)) from None

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


rule all:
    default_target: True
    input:
        final_targets(),
