"""A config file is untrusted input: checked before Snakemake's config dict is used.

:func:`check_yaml_file` stops with the file and line where the YAML is malformed, where a key is given twice
at any depth (YAML keeps the last value and drops the first silently), or where the file asks for Snakemake's
YTE templating (``__use_yte__``: Python expressions in the file, evaluated as the file is loaded).
"""

from __future__ import annotations

import os

import yaml

from pipeline_lib.config.errors import ConfigError

YTE_KEY = "__use_yte__"
_MERGE = "tag:yaml.org,2002:merge"


def check_yaml_file(path: str | os.PathLike, evaluated: bool = False) -> None:
    """Raise a :class:`ConfigError` naming the file and line where ``path`` is not valid YAML (Snakemake says
    only "not valid JSON or YAML"), repeats a key, or turns on YTE templating. ``evaluated``: Snakemake has
    already loaded the file (a ``--configfile``: its command line renders the template before the workflow
    starts, so the refusal comes after the code ran, and says so). A missing file is Snakemake's to report."""
    try:
        with open(path, encoding="utf-8") as fh:
            root = yaml.compose(fh, Loader=yaml.SafeLoader)
        with open(path, encoding="utf-8") as fh:
            yaml.safe_load(fh)  # the constructor's own errors (a bad tag, ...)
    except FileNotFoundError:
        return
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        context = f" ({err.context})" if err.context else ""
        raise ConfigError(f"{where}: not valid YAML: {err.problem}{context}; fix the file there") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the file") from None
    if root is not None:
        _refuse_yte(path, root, evaluated)
        _refuse_duplicates(path, root, (), set())


def _refuse_yte(path: str | os.PathLike, root: yaml.Node, evaluated: bool) -> None:
    if not isinstance(root, yaml.MappingNode):
        return
    for key, _ in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == YTE_KEY:
            already = (
                "; Snakemake's command line has already evaluated this --configfile before the workflow "
                "started (its expressions have run: check what they did)"
                if evaluated
                else ""
            )
            raise ConfigError(
                f"{path}:{key.start_mark.line + 1}: {YTE_KEY} turns on Snakemake's YTE templating, which "
                "evaluates Python expressions written in the file (it would run code); mixpipe refuses "
                f"templated config files: remove {YTE_KEY} and write plain values{already}"
            )


def _refuse_duplicates(
    path: str | os.PathLike, node: yaml.Node, where: tuple[str, ...], seen: set[int]
) -> None:
    """Walk the composed tree (each node once: aliases share nodes) and stop at the first repeated key."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicates(path, item, where, seen)
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[tuple[str, str], int] = {}
    for key, value in node.value:
        if key.tag == _MERGE or not isinstance(key, yaml.ScalarNode):  # `<<: *base` overrides by design
            continue
        name = str(key.value)
        line = key.start_mark.line + 1
        if (key.tag, name) in first:
            dotted = ".".join((*where, name))
            raise ConfigError(
                f"{path}:{line}: key '{dotted}' is given twice (lines {first[key.tag, name]} and {line}); "
                "YAML would keep only the last one and drop the first without a word: "
                "keep one (merge the two)"
            )
        first[key.tag, name] = line
        _refuse_duplicates(path, value, (*where, name), seen)
