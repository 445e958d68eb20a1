"""Loading and validation: the schema-validated YAML dict -> a :class:`Project`.

Each ``_load_*`` function builds one part and returns the problems it found; :func:`load_project` raises one
:class:`ConfigError` listing them all, each naming the field's path, so ``snakemake -n`` stops before any job.
"""

from __future__ import annotations

import dataclasses
import math
import string
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pipeline_lib.config.design import DESIGN, DesignConfig
from pipeline_lib.config.methods import MethodConfig, OlmixConfig, StaticConfig, parameter_problems
from pipeline_lib.config.names import name_problems
from pipeline_lib.config.ranges import field_range
from pipeline_lib.config.registry import GRID, METHODS, SWARM, baselines, build_method_config
from pipeline_lib.config.reuse import REUSE, ReuseConfig
from pipeline_lib.config.types import (
    AIOLI_PLUS,
    RESTRICTED,
    TRACKER_PACKAGES,
    ConfigError,
    DataConfig,
    PilotConfig,
    Project,
    RestrictedConfig,
    Setting,
    SourceConfig,
    TokenizerConfig,
    TrainConfig,
    build_dataclass,
    deep_merge,
)
from pipeline_lib.model.config import ModelConfig

Problems = list[str]


def load_project(config: dict[str, Any]) -> Project:
    """Turn the schema-validated config dict into a :class:`Project`; one error lists every problem."""
    problems: Problems = []

    def collect(result: tuple[Any, Problems]) -> Any:
        problems.extend(result[1])
        return result[0]

    data = collect(_load_data(config.get("data") or {}))
    settings = collect(_load_settings(config))
    broken = set(config.get("settings") or {}) - set(settings)  # defined, reported, not built
    run = config.get("run") or {}
    run_settings, run_methods, seeds = collect(_load_run(run, settings, broken))
    restricted = collect(_load_restricted(config.get("restricted"), settings, broken))
    pilots = collect(_load_part(PilotConfig, config.get("pilots"), "pilots"))
    problems += _check_groups(data, settings) + _check_tracking(settings)
    views = {name: settings[name] for name in settings}
    for name in restricted.settings if restricted.methods else ():
        if name in settings:
            view = dataclasses.replace(
                settings[name], view=RESTRICTED, learn_fraction=restricted.learn_fraction
            )
            views[view.key] = view
    project = Project(
        data, views, run_settings, run_methods, seeds, pilots, bool(run.get("law_fidelity")), restricted
    )
    project = collect(_load_method_configs(config, project))
    project = collect(_load_reuse(config, project))
    project = collect(_load_tasks(config.get("tasks"), project))
    project = collect(_load_design(config, project))
    problems += _check_pilot_counts(project) + name_problems(project)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return project


def _load_part(cls: type, raw: Mapping[str, Any] | None, where: str) -> tuple[Any, Problems]:
    try:
        return build_dataclass(cls, raw, where), []
    except (ConfigError, TypeError, ValueError) as err:
        return cls(), [f"{where}: {err}" if not str(err).startswith(where) else str(err)]


def _load_data(raw: Mapping[str, Any]) -> tuple[DataConfig | None, Problems]:
    try:
        data = DataConfig.from_dict(raw)
    except (ConfigError, TypeError, ValueError) as err:
        return None, [str(err)]
    problems = _check_tokenizer(data.tokenizer)
    if data.split.val_fraction <= 0 or data.split.test_fraction <= 0:
        problems.append("data.split: val_fraction and test_fraction must be > 0")
    if data.split.val_fraction + data.split.test_fraction >= 1:
        problems.append("data.split: val_fraction + test_fraction must be < 1")
    return data, problems + _check_file_pattern(data.source) + _check_views(data)


def _check_file_pattern(source: SourceConfig) -> Problems:
    """A jsonl source's ``file_pattern`` names the group as ``{group}`` and nothing else in braces, and stays
    in ``data.source.path`` (no ``/`` leading out, no ``..``)."""
    if source.kind != "jsonl":
        return []
    pattern, where = source.file_pattern, "data.source.file_pattern"
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError as err:
        return [f"{where}: {pattern!r} is not a valid pattern ({err}); write e.g. '{{group}}.jsonl.gz'"]
    if fields != {"group"}:
        named = ", ".join(f"{{{f}}}" for f in sorted(fields)) or "no field"
        return [
            f"{where}: {pattern!r} names {named}; it must name the group as {{group}} and nothing else in "
            "braces, e.g. '{group}.jsonl.gz'"
        ]
    if pattern.startswith("/") or ".." in pattern.split("/"):
        return [f"{where}: {pattern!r} leads out of data.source.path; give a file name within it"]
    return []


def _check_views(data: DataConfig) -> Problems:
    """Views read a parent that is not itself a view; partitions name views of their parent."""
    problems = []
    if data.views and data.source.kind != "jsonl":
        problems.append(f"data.views: only a jsonl source supports views, not '{data.source.kind}'")
    for name, view in data.views.items():
        if view.of in data.views:
            problems.append(f"data.views.{name}: its parent '{view.of}' is itself a view; name a group")
    for parent, parts in data.partitions.items():
        bad = [p for p in parts if p not in data.views or data.views[p].of != parent]
        if bad or len(parts) < 2:
            problems.append(
                f"data.partitions.{parent}: needs >= 2 views of '{parent}' (data.views.<name>.of); "
                f"{bad} are not"
            )
    return problems


def _check_tokenizer(tok: TokenizerConfig) -> Problems:
    """The field each tokenizer kind needs: ``file`` an existing ``path``, ``hub`` a ``name``."""
    if tok.kind == "file":
        if not tok.path:
            return [
                "data.tokenizer.path: required with data.tokenizer.kind 'file'; set it to a tokenizer.json"
            ]
        if not Path(tok.path).is_file():
            return [
                f"data.tokenizer.path: file '{tok.path}' does not exist (relative paths start at the working "
                f"directory, {Path.cwd()}); give the path of a tokenizer.json, or use kind 'bpe' or 'hub'"
            ]
    elif tok.kind == "hub":
        if not tok.name:
            return [
                "data.tokenizer.name: required with data.tokenizer.kind 'hub'; set it to a Hugging Face hub "
                "model id (e.g. EleutherAI/pythia-160m)"
            ]
    elif tok.kind != "bpe":
        return [f"data.tokenizer.kind must be bpe, file or hub, got '{tok.kind}'"]
    return []


def _load_settings(config: Mapping[str, Any]) -> tuple[dict[str, Setting], Problems]:
    """Every defined setting with its model and schedule (method configs come later, per view)."""
    settings, problems = {}, []
    for name, raw in (config.get("settings") or {}).items():
        where = f"settings.{name}"
        groups = tuple(raw.get("groups") or ())
        if len(groups) < 2 or len(set(groups)) != len(groups):
            problems.append(f"{where}.groups: give at least two distinct groups, got {list(groups)}")
        static = raw.get("static")
        if static is not None:
            problems += _check_proportions(f"{where}.static", groups, static)
        unknown = sorted(set(raw.get("methods") or {}) - set(METHODS))
        if unknown:
            problems.append(f"{where}.methods: unknown method(s) {unknown}; available: {sorted(METHODS)}")
        try:
            model = ModelConfig.from_dict(deep_merge(config.get("model", {}), raw.get("model")))
            train = build_dataclass(
                TrainConfig, deep_merge(config.get("train", {}), raw.get("train")), f"{where}.train"
            )
        except (ConfigError, TypeError, ValueError) as err:
            problems.append(f"{where}: {err}")
            continue
        settings[name] = Setting(name, groups, raw.get("paper"), static, model, train)
    return settings, problems


def _check_proportions(where: str, groups: tuple[str, ...], props: dict[str, float]) -> Problems:
    """``settings.<s>.static``: the setting's groups, each weight in the static method's declared range
    (``StaticConfig.proportions``), a sum of 1."""
    problems = []
    if set(props) != set(groups):
        problems.append(
            f"{where}: proportions must name exactly the setting's groups {list(groups)}, got {sorted(props)}"
        )
    weight = field_range(StaticConfig, "proportions")
    problems += [f"{where}.{g}: {msg}" for g, v in props.items() if weight and (msg := weight.problem(v))]
    total = sum(props.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        problems.append(f"{where}: proportions must sum to 1, they sum to {total:.6g}")
    return problems


def _load_run(
    run: Mapping[str, Any], settings: dict[str, Setting], broken: Collection[str] = ()
) -> tuple[tuple, Problems]:
    """(run settings, run methods, seeds) of the ``run`` block; a ``broken`` setting (defined, its problem
    already reported) is left out, not called unknown."""
    run_settings = tuple(s for s in run.get("settings") or settings if s not in broken)
    run_methods = tuple(run.get("methods") or ())
    seeds = tuple(run.get("seeds") or (0,))
    problems = [
        f"run.settings: unknown setting '{name}'; defined: {sorted(settings)}"
        for name in run_settings
        if name not in settings
    ]
    problems += [
        f"run.methods: unknown method '{m}'; available: {sorted(METHODS)}"
        for m in run_methods
        if m not in METHODS
    ]
    problems += repeated_seeds("run.seeds", seeds)
    if "static" in run_methods:
        missing = [s for s in run_settings if s in settings and settings[s].static is None]
        if missing:
            problems.append(
                f"run.methods includes 'static' but settings {missing} have no 'static' proportions; "
                "add settings.<name>.static: {group: weight, ...}"
            )
    return (run_settings, run_methods, seeds), problems


def repeated_seeds(where: str, seeds: Sequence[int]) -> Problems:
    """A seed listed twice would plan the same run twice (the same job, or two runs counted as two seeds)."""
    times = {2: "twice"}
    return [
        f"{where}: seed {seed} is listed {times.get(n, f'{n} times')}; list each seed once"
        for seed, n in Counter(seeds).items()
        if n > 1
    ]


def _load_restricted(
    raw: Mapping[str, Any] | None, settings: dict[str, Setting], broken: Collection[str] = ()
) -> tuple[Any, Problems]:
    default = {"methods": baselines()}
    restricted, problems = _load_part(RestrictedConfig, {**default, **(raw or {})}, "restricted")
    problems += [
        f"restricted.settings: unknown setting '{name}'; defined: {sorted(settings)}"
        for name in restricted.settings
        if name not in settings and name not in broken
    ]
    unknown = sorted(set(restricted.methods) - set(default["methods"]))
    if unknown:
        choose = list(default["methods"])
        problems.append(f"restricted.methods: {unknown} learn no proportions; choose from {choose}")
    return restricted, problems


def _check_tracking(settings: dict[str, Setting]) -> Problems:
    """Each tracker a setting logs to needs its package (tensorboard: the ``tracking`` extra)."""
    import importlib.util

    problems = []
    for tracker, package in TRACKER_PACKAGES.items():
        wanted = [name for name, s in settings.items() if tracker in s.train.tracker_names]
        if wanted and importlib.util.find_spec(tracker) is None:
            problems.append(f"train.trackers: {tracker} is on (settings {wanted}) but not installed: "
                            f"pip install {package}, or leave it out")  # fmt: skip
    return problems


def _check_groups(data: DataConfig | None, settings: dict[str, Setting]) -> Problems:
    if data is None or not data.tokenizer.groups:
        return []
    return [
        f"settings.{name} uses groups {sorted(set(s.groups) - set(data.tokenizer.groups))} not in "
        "data.tokenizer.groups"
        for name, s in settings.items()
        if set(s.groups) - set(data.tokenizer.groups)
    ]


class _Block(NamedTuple):
    """A method's parameters in a setting, where they come from: ``where`` the block that set them last,
    ``origins`` each parameter's block (after ``extends``)."""

    params: dict[str, Any]
    where: str
    origins: dict[str, str]


def _raw_method(
    config: Mapping[str, Any], setting: str | None, method: str, seen: tuple[str, ...] = ()
) -> _Block:
    """``methods.<m>`` (after the method it ``extends``), then ``settings.<s>.methods.<m>``."""
    top = (config.get("methods") or {}).get(method) or {}
    own = ((config.get("settings") or {}).get(setting, {}).get("methods") or {}).get(method)
    where = f"settings.{setting}.methods.{method}" if own is not None else f"methods.{method}"
    raw = {**top, **(own or {})}
    origins = {**dict.fromkeys(top, f"methods.{method}"), **dict.fromkeys(own or {}, where)}
    base = raw.pop("extends", None)
    if base:
        at = f"{origins.pop('extends')}.extends"
        if base not in METHODS:
            raise ConfigError(f"{at}: unknown method '{base}'; available: {sorted(METHODS)}")
        if base in (*seen, method):
            raise ConfigError(f"{at}: '{base}' extends '{method}' in turn; break the cycle")
        inherited = _raw_method(config, setting, base, (*seen, method))
        raw, origins = {**inherited.params, **raw}, {**inherited.origins, **origins}
    return _Block(raw, where, origins)


def _method_config(config: Mapping[str, Any], s: Setting, method: str, prior_fraction: float) -> MethodConfig:
    """One method's typed config in view ``s`` (``aioli+<X>``: Aioli's with X's as its prior)."""
    if method.startswith(AIOLI_PLUS):
        prior = method.removeprefix(AIOLI_PLUS)
        raw, where, origins = _raw_method(config, s.name, "aioli")
        aioli = build_method_config(
            "aioli", {**raw, "prior_steps": round(s.train.steps * prior_fraction)}, where, origins
        )
        x = _method_config(config, s, prior, prior_fraction)
        return build_method_config(
            method, {"aioli": aioli, "prior_method": prior, "prior": x.to_dict()}, method
        )
    raw, where, origins = _raw_method(config, s.name, method)
    if method == "static":  # settings.<s>.static, checked there (one message per problem)
        valid = s.static and not _check_proportions("", s.groups, s.static)
        raw["proportions"] = [s.static.get(g, 0.0) for g in s.groups] if valid else None
    return build_method_config(method, raw, where, origins)


def _check_method_blocks(config: Mapping[str, Any]) -> Problems:
    """Every ``methods.<m>`` and ``settings.<s>.methods.<m>`` block, whether or not a run uses the method or
    a setting overrides the value: each parameter on its own (name, type, range) at its block's path, then
    the cross-field rules of the block as each setting merges it."""
    settings = config.get("settings") or {}
    blocks = {f"methods.{m}": (m, b) for m, b in (config.get("methods") or {}).items()}
    for s, raw in settings.items():
        blocks |= {f"settings.{s}.methods.{m}": (m, b) for m, b in ((raw or {}).get("methods") or {}).items()}
    problems = []
    for where, (method, block) in blocks.items():
        if method in METHODS and isinstance(block, Mapping):
            own = {k: v for k, v in block.items() if k != "extends"}
            problems += parameter_problems(METHODS[method].config, own, where)
    for setting in settings or [None]:
        for method in dict.fromkeys(m for _, (m, _) in blocks.items() if m in METHODS):
            try:
                build_method_config(method, *_raw_method(config, setting, method))
            except ConfigError as err:
                problems += err.problems
    return problems


def _load_method_configs(config: Mapping[str, Any], project: Project) -> tuple[Project, Problems]:
    """Every method block's fields, then each run view's methods against its groups and schedule."""
    problems = [
        f"methods: unknown method '{name}'; available: {sorted(METHODS)}"
        for name in config.get("methods") or {}
        if name not in METHODS
    ]
    problems += _check_method_blocks(config)
    views = dict(project.settings)
    run_views = [*project.run_settings, *project.restricted_settings]
    for key in dict.fromkeys(k for k in run_views if k in views):
        s = views[key]
        configs: dict[str, MethodConfig] = {}
        for method in project.methods_of(key):
            try:
                cfg = _method_config(config, s, method, project.restricted.prior_fraction)
            except ConfigError as err:
                problems += err.problems
                continue
            configs[method] = cfg
            where = _raw_method(config, s.name, method.split("+")[0]).where
            found = [*cfg.setting_problems(len(s.groups), s.train), *_natural_problems(cfg, s.groups)]
            problems += [f"{where}: {p} (setting '{key}')" for p in found]
        views[key] = dataclasses.replace(s, methods=configs)
    return dataclasses.replace(project, settings=views), list(dict.fromkeys(problems))


def _natural_problems(cfg: MethodConfig, groups: Sequence[str]) -> Problems:
    """Olmix's given natural distribution weighs every group it mixes."""
    natural = getattr(cfg, "natural", None)
    missing = [g for g in groups if natural is not None and g not in natural]
    return [f"natural has no weight for {missing}"] if missing else []


def _check_pilot_counts(project: Project) -> Problems:
    """Fitting a mixing law on m >= 3 groups needs at least m + 1 pilot runs."""
    on_grid = {name for name, m in METHODS.items() if m.learns_on == GRID}
    keys = list(project.run_settings) if on_grid & set(project.run_methods) or project.law_fidelity else []
    if on_grid & set(project.restricted.methods):
        keys += list(project.restricted.settings)
    problems = []
    for key in dict.fromkeys(keys):
        m = len(project.settings[key].groups) if key in project.settings else 0
        if m >= 3 and project.pilots.size(m) < m + 1:
            problems.append(
                f"pilots.n_mixtures = {project.pilots.size(m)} is too few for setting '{key}' ({m} groups): "
                f"fitting a mixing law needs at least m + 1 = {m + 1} pilot runs"
            )
    return problems


def _load_reuse(config: Mapping[str, Any], project: Project) -> tuple[Project, Problems]:
    """``reuse:``: the update sequence, and one view ``reuse/stage<t>`` per stage (the stage's domains, the
    top-level model and schedule, Olmix's config with one task set for every stage)."""
    if not config.get(REUSE):
        return project, []
    try:
        reuse = ReuseConfig.from_dict(config[REUSE])
    except (ConfigError, TypeError, ValueError) as err:
        return project, [str(err)]
    raw = {"model": config.get("model", {}), "train": config.get("train", {})}
    raw["settings"] = {f"stage{t}": {"groups": list(g)} for t, g in enumerate(reuse.stages)}
    stages, problems = _load_settings(raw)
    views = dict(project.settings)
    for t, s in stages.items():
        s = dataclasses.replace(s, name=REUSE, view=t)
        try:
            cfg = _method_config(config, s, "olmix", 0.0)
        except ConfigError as err:
            return project, [*problems, *err.problems]
        parents = {name: v.of for name, v in project.data.views.items()} if project.data else {}
        tasks = cfg.tasks or tuple(dict.fromkeys(parents.get(d, d) for g in reuse.stages for d in g))
        cfg = dataclasses.replace(cfg, tasks=tasks)
        found = [*cfg.setting_problems(len(s.groups), s.train), *_natural_problems(cfg, s.groups)]
        problems += [f"methods.olmix: {p} (reuse {t})" for p in found] + _reuse_units(cfg)
        views[s.key] = dataclasses.replace(s, methods={"olmix": cfg})
    problems += _check_partial(reuse) + repeated_seeds("reuse.seeds", reuse.seeds)
    return dataclasses.replace(project, settings=views, reuse=reuse), list(dict.fromkeys(problems))


def _load_tasks(raw: Mapping[str, Any] | None, project: Project) -> tuple[Project, Problems]:
    """``tasks:`` (off when absent): the task set checked (names, suite, request files); an Olmix objective
    on tasks needs it."""
    from pipeline_lib.config.tasks import TasksConfig

    tasks, problems = None, []
    if raw is not None:
        try:
            tasks = TasksConfig.from_dict(raw)
        except ConfigError as err:
            return project, [str(err)]
        problems = tasks.problems()
    for key, s in project.settings.items():
        for method, cfg in s.methods.items():
            objective = getattr(cfg, "objective", "groups")
            if objective != "groups" and method in METHODS and METHODS[method].learns_on != SWARM:
                problems.append(
                    f"methods.{method}.objective: '{objective}' applies to a law fitted on the swarm "
                    f"(olmix); {method} fits its pilots' validation loss: leave objective at groups"
                )
            elif objective != "groups" and tasks is None:
                problems.append(
                    f"methods.{method}.objective: '{objective}' needs a top-level tasks: block (the "
                    f"downstream task set; setting {key}); add one, e.g. tasks: {{set: shipped}}"
                )
    return dataclasses.replace(project, tasks=tasks), list(dict.fromkeys(problems))


_REUSE_UNITS = {"regressor": "log_linear", "proposer": "exact", "sampling": "olmix"}


def _reuse_units(cfg: OlmixConfig) -> Problems:
    """The reuse runs the paper's units: Olmix's draw over a stage's collapsed columns, the log-linear law
    (PartialMixtureReuse ranks domains by its interactions) and the exact solve under the virtual domain's
    cap."""
    return [
        f"methods.olmix.{key}: the mixture reuse (reuse:) runs {need}, got '{getattr(cfg, key)}'; leave "
        f"{key} at {need} in a reuse config"
        for key, need in _REUSE_UNITS.items()
        if getattr(cfg, key) != need
    ]


def _check_partial(reuse: ReuseConfig) -> Problems:
    """A stage's given PartialMixtureReuse domains are unaffected domains of that stage."""
    problems = []
    for t, names in (reuse.partial or {}).items():
        if not 1 <= t <= reuse.final:
            problems.append(f"reuse.partial: stage {t} is not an update stage (1..{reuse.final})")
            continue
        unaffected = set(reuse.stages[t]) & set(reuse.stages[t - 1])
        bad = sorted(set(names) - unaffected)
        if bad:
            problems.append(
                f"reuse.partial.{t}: {bad} are not unaffected domains of stage {t} ({sorted(unaffected)})"
            )
    return problems


def _load_design(config: Mapping[str, Any], project: Project) -> tuple[Project, Problems]:
    """``design:``: its settings get Olmix's config (their swarm draw, proxies and units' settings); with no
    ``run:`` block (refused) it trains no final run, so the design's outputs are its only targets."""
    if not config.get(DESIGN):
        return project, []
    try:
        design = DesignConfig.from_dict(config[DESIGN])
    except ConfigError as err:
        return project, err.problems
    problems = [
        f"{DESIGN}.settings: unknown setting '{name}'; defined: {sorted(project.settings)}"
        for name in design.settings
        if name not in project.settings
    ]
    views = dict(project.settings)
    for name in (n for n in design.settings if n in views):
        s = views[name]
        try:
            cfg = _method_config(config, s, "olmix", 0.0)
        except ConfigError as err:
            problems += err.problems
            continue
        where = _raw_method(config, name, "olmix").where
        problems += [
            f"{where}: {p} (design setting '{name}')" for p in cfg.setting_problems(len(s.groups), s.train)
        ]
        views[name] = dataclasses.replace(s, methods={**s.methods, "olmix": cfg})
    if config.get("run"):
        problems.append(
            f"{DESIGN}: the design experiment is a config of its own (its report is report/claims, as the "
            "run's); remove the run: block or put design: in another config (e.g. config/olmix-design.yaml)"
        )
    project = dataclasses.replace(project, settings=views, design=design, run_settings=())
    return project, problems


def top_method_config(config: Mapping[str, Any], method: str) -> MethodConfig:
    """``methods.<method>`` typed (after what it ``extends``, code defaults filled), outside any setting."""
    return build_method_config(method, *_raw_method(config, None, method))
