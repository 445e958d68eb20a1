"""State files (``state.pt``, ``checkpoint.pt``) that load without running code.

A results folder may be shared and group-writable, so no file in it is unpickled: every load is
``torch.load(weights_only=True)``, which builds tensors, numbers, strings, lists, tuples and dicts only and
refuses anything else (a planted ``__reduce__`` never runs). What a run saves beyond those (numpy arrays and
scalars, numpy random generators) is stored as tagged dicts of them (:func:`to_safe`) and rebuilt exactly on
load (:func:`from_safe`): the same dtypes, shapes, bits and generator states. Files are opened memory-mapped,
so a caller checks the ``format`` (and a checkpoint's key) before any tensor's data is read.
"""

from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline_lib.io import atomic_path
from pipeline_lib.storage import storage_errors

STATE_FORMAT = "mixpipe.state/1"
"""The ``format`` of a trainer's ``state.pt`` (a reference model, a dynamic parent)."""
TAG = "__mixpipe_type__"
_GENERATORS = {"PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"}
_SCALAR_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class UnreadableStateError(ValueError):
    """A state or checkpoint file that cannot be read safely: damaged, foreign, or holding code."""


def to_safe(obj: Any, where: str = "state") -> Any:
    """``obj`` with numpy arrays, numpy scalars and numpy generators replaced by tagged dicts of tensors and
    numbers, so that ``torch.load(weights_only=True)`` reads it back. ``where`` names ``obj`` in errors."""
    if isinstance(obj, np.generic):  # before float: np.float64 is a float
        if obj.dtype.kind not in _SCALAR_KINDS:
            raise TypeError(f"{where}: cannot store a numpy {obj.dtype} scalar in a state file")
        return {TAG: "scalar", "dtype": obj.dtype.str, "value": obj.item()}
    if obj is None or isinstance(obj, bool | int | float | str | torch.Tensor):
        return obj
    if isinstance(obj, np.ndarray):
        try:
            data = torch.from_numpy(np.array(obj, copy=True, order="C"))
        except TypeError as err:
            raise TypeError(f"{where}: cannot store a numpy {obj.dtype} array in a state file") from err
        return {TAG: "ndarray", "data": data}
    if isinstance(obj, np.random.Generator):
        name = type(obj.bit_generator).__name__
        if name not in _GENERATORS:
            raise TypeError(f"{where}: cannot store a numpy generator over {name} in a state file")
        return {TAG: "generator", "bit_generator": name, "state": to_safe(obj.bit_generator.state, where)}
    if isinstance(obj, dict):
        if TAG in obj:
            raise TypeError(f"{where}: the key {TAG!r} is reserved for state files' own use")
        return _rebuild_dict(obj, {k: to_safe(v, f"{where}[{k!r}]") for k, v in obj.items()})
    if type(obj) in (list, tuple):
        return type(obj)(to_safe(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(
        f"{where}: cannot store a {type(obj).__name__} in a state file; store tensors, numpy arrays, "
        "numbers, strings, lists, tuples or dicts"
    )


def from_safe(obj: Any) -> Any:
    """The inverse of :func:`to_safe` on a loaded file: tagged dicts rebuilt, every tensor copied into
    memory (off the file's memory map). Raises :class:`UnreadableStateError` on a malformed tag."""
    if isinstance(obj, torch.Tensor):
        return obj.clone()
    if isinstance(obj, dict):
        if TAG in obj:
            return _from_tagged(obj)
        return _rebuild_dict(obj, {k: from_safe(v) for k, v in obj.items()})
    if type(obj) in (list, tuple):
        return type(obj)(from_safe(v) for v in obj)
    return obj


def _rebuild_dict(original: dict, items: dict) -> dict:
    """``items`` as ``original``'s kind of dict; a module's state dict keeps its ``_metadata`` (versions)."""
    if not isinstance(original, OrderedDict):
        return items
    out = OrderedDict(items)
    if hasattr(original, "_metadata"):
        out._metadata = original._metadata
    return out


def _from_tagged(obj: dict) -> Any:
    kind = obj[TAG]
    if kind not in ("ndarray", "scalar", "generator"):
        raise UnreadableStateError(f"an entry of unknown kind {kind!r}")
    try:
        if kind == "ndarray":
            return obj["data"].numpy().copy()
        if kind == "scalar":
            dtype, value = np.dtype(obj["dtype"]), obj["value"]
            if dtype.kind not in _SCALAR_KINDS or not isinstance(value, bool | int | float):
                raise TypeError(f"a {dtype} scalar of {type(value).__name__}")
            return dtype.type(value)
        if obj["bit_generator"] not in _GENERATORS:
            raise ValueError(f"no bit generator {obj['bit_generator']!r}")
        bit_generator = getattr(np.random, obj["bit_generator"])()
        bit_generator.state = from_safe(obj["state"])
        return np.random.Generator(bit_generator)
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as err:
        raise UnreadableStateError(f"a malformed {kind!r} entry ({err})") from err


def write_state_file(path: str | Path, state: dict[str, Any], what: str = "the run's state") -> None:
    """Write ``state`` (see :func:`to_safe`) to ``path`` atomically. Through a Python file handle: a full
    disk is then an ``OSError`` (ENOSPC), a :class:`StorageError` naming the file, not torch's opaque
    "unexpected pos" error."""
    safe = to_safe(state)
    with storage_errors(path, what), atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(safe, fh)


def open_state_file(path: str | Path) -> dict[str, Any]:
    """A state file's top-level dict, memory-mapped: its tensors are not read yet (see :func:`materialise`).
    Raises :class:`UnreadableStateError`, naming the file, for anything that is not a safe state file."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:  # torch's weights-only unpickler refused an object
        found = re.search(r"WeightsUnpickler error: (.*?)(?: Please|$)", str(err), re.MULTILINE)
        detail = found.group(1) if found else str(err).strip().splitlines()[0]
        raise UnreadableStateError(
            f"{path}: refused: it holds more than tensors and plain values ({detail}); nothing in it ran"
        ) from err
    except FileNotFoundError:
        raise
    except Exception as err:  # a truncated or damaged zip, an old format: torch raises many kinds
        cause = str(err).strip().split(". ")[0].splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnreadableStateError(f"{path}: cannot be read ({cause})") from err
    if not isinstance(raw, dict):
        raise UnreadableStateError(f"{path}: holds a {type(raw).__name__}, not a state dict")
    return raw


def check_format(raw: dict[str, Any], expected: str, path: str | Path) -> None:
    """Raise :class:`UnreadableStateError` unless the file's ``format`` is ``expected``."""
    found = raw.get("format")
    if found != expected:
        raise UnreadableStateError(f"{path}: its format is {found!r}, not {expected!r}")


def materialise(raw: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """:func:`from_safe` on an opened, checked file; errors name ``path``."""
    try:
        return from_safe(raw)
    except UnreadableStateError as err:
        raise UnreadableStateError(f"{path}: {err}") from err


def read_state(path: str | Path) -> dict[str, Any]:
    """A trainer's ``state.pt`` (:data:`STATE_FORMAT`), its format checked before its tensors are read."""
    try:
        raw = open_state_file(path)
        check_format(raw, STATE_FORMAT, path)
        return materialise(raw, path)
    except UnreadableStateError as err:
        raise UnreadableStateError(
            f"{err}. It is not a state.pt this version of mixpipe wrote: delete it and rerun the job that "
            "writes it"
        ) from err
