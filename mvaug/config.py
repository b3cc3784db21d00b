"""Typed configs: dataclasses loaded from YAML with validation that names the bad key.

Every component's config is a dataclass with a docstring per field. ``load_config`` reads plain
YAML (``yaml.safe_load``), rejects unknown keys (suggesting close matches), converts and checks
types, and ``dump_config`` writes plain YAML back, so a run can save its resolved config.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from mvaug.errors import ConfigError

T = TypeVar("T")


def load_config(cls: type[T], source: str | os.PathLike | dict | None = None, overrides: dict | None = None) -> T:
    """Build ``cls`` from a YAML file or a dict, then apply ``overrides`` (e.g. explicit CLI options)."""
    where = None
    data: Any = {}
    if isinstance(source, (str, os.PathLike)):
        where = Path(source)
        data = read_yaml(where)
    elif source is not None:
        data = dict(source)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys to values at the top level, got {type(data).__name__}", where)
    data = {**data, **(overrides or {})}
    _check_exclusive(cls, data, where, prefix="")
    return _build(cls, data, where, prefix="")


def require_at_least(config: Any, minimum: int, *names: str) -> None:
    """For ``__post_init__``: ValueError naming the first of the fields ``names`` of ``config`` below ``minimum``."""
    for name in names:
        if getattr(config, name) < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {getattr(config, name)}")


def require_fraction(config: Any, *names: str) -> None:
    """For ``__post_init__``: ValueError naming the first of the fields ``names`` of ``config`` outside [0, 1]."""
    for name in names:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {getattr(config, name)}")


def config_to_dict(config: Any) -> dict:
    """Plain data (dicts, lists, str, numbers) for YAML/JSON."""
    return _plain(dataclasses.asdict(config))


def dump_config(config: Any) -> str:
    import yaml

    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def save_config(config: Any, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    from mvaug.io.atomic import atomic_write_text

    atomic_write_text(path, dump_config(config))


def read_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise ConfigError("not a readable YAML text file", path) from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"invalid YAML{at}: {getattr(err, 'problem', err)}", path) from None


def _build(cls: type, data: dict, where: Path | None, prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    data = _replace_retired(cls, data)
    hints = typing.get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; valid keys: {', '.join(fields)}"
        raise ConfigError(f"unknown key '{prefix}{key}'{hint}", where)
    values = {}
    for name, value in data.items():
        default = _field_default(fields[name])
        if dataclasses.is_dataclass(hints[name]) and isinstance(value, dict) and default is not None:
            _check_exclusive(hints[name], value, where, f"{prefix}{name}.")
            value = merged(config_to_dict(default), _replace_retired(hints[name], value))  # a partial section keeps the field's own defaults
        values[name] = _convert(hints[name], value, where, f"{prefix}{name}")
    try:
        return cls(**values)
    except ValueError as err:
        raise ConfigError(f"{prefix.rstrip('.') + ': ' if prefix else ''}{err}", where) from None


def _check_exclusive(cls: type, given: dict, where: Path | None, prefix: str) -> None:
    """Pairs of keys of which a config gives at most one (``cls.exclusive_keys``), checked before defaults fill in."""
    for first, second in getattr(cls, "exclusive_keys", ()):
        if given.get(first) is not None and given.get(second) is not None:
            raise ConfigError(f"'{prefix}{first}' and '{prefix}{second}' both given; set one (the other to null)", where)


def _replace_retired(cls: type, data: dict) -> dict:
    """Keys a config class no longer has but still reads (its ``retired_keys``: old key -> value -> new keys);
    a new key written beside its old one wins."""
    retired = getattr(cls, "retired_keys", {})
    fields = {f.name for f in dataclasses.fields(cls)}
    out = {k: v for k, v in data.items() if k not in retired or k in fields}
    for key in data.keys() & retired.keys() - fields:
        for new_key, value in retired[key](data[key]).items():
            out.setdefault(new_key, value)
    return out


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def merged(base: dict, update: dict) -> dict:
    """``base`` with ``update`` applied, recursing into nested mappings."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _convert(hint: Any, value: Any, where: Path | None, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"key '{key}' expects a mapping, got {value!r}", where)
        return _build(hint, value, where, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, where, key)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"key '{key}' must be one of {', '.join(repr(a) for a in args)}, got {value!r}", where)
        return value
    if origin in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"key '{key}' expects a list, got {value!r}", where)
        if origin is tuple and args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ConfigError(f"key '{key}' expects {len(args)} values, got {len(value)}", where)
        item_types = [args[0]] * len(value) if (origin is list or args[-1] is Ellipsis) else list(args)
        items = [_convert(t, v, where, f"{key}[{i}]") for i, (t, v) in enumerate(zip(item_types, value))]
        return tuple(items) if origin is tuple else items
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"key '{key}' expects true or false, got {value!r}", where)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"key '{key}' expects an integer, got {value!r}", where)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"key '{key}' expects a number, got {value!r}", where)
        if not math.isfinite(value):
            raise ConfigError(f"key '{key}' expects a finite number, got {value!r}", where)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"key '{key}' expects a string, got {value!r}", where)
        return value
    if hint is Path:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"key '{key}' expects a path, got {value!r}", where)
        return Path(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _without_partners_of(cls: type, data: dict, given: dict) -> dict:
    """``data`` (a config file's mapping) less each key whose exclusive partner ``given`` sets and it does not:
    ``--set train.epochs=48`` on a run whose config.yaml stores the resolved ``train.steps`` replaces the schedule."""
    data = dict(data)
    for first, second in getattr(cls, "exclusive_keys", ()):
        for key, partner in ((first, second), (second, first)):
            if given.get(key) is not None and partner not in given:
                data.pop(partner, None)
    hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
    for name, value in given.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict) and dataclasses.is_dataclass(hints.get(name)):
            data[name] = _without_partners_of(hints[name], data[name], value)
    return data


def parse_overrides(pairs: list[str]) -> dict:
    """``["train.steps=100", "model.norm=l2"]`` -> nested dict; values are parsed as YAML scalars/lists."""
    import yaml

    tree: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{part}' is set to a value and used as a section")
        node[leaf] = yaml.safe_load(text) if text else ""
    return tree


def resolve_run_config(
    cls: type[T], config_path: str | os.PathLike | None, overrides: list[str], run_dir: Path, resume: bool, extra: dict | None = None
) -> T:
    """A training run's config: the run's own config.yaml when resuming, else ``config_path`` (else the
    defaults); then ``extra`` and the ``--set key=value`` ``overrides``. Errors name the file, or ``--set`` when the
    file alone is valid."""
    saved = Path(run_dir) / "config.yaml"
    source = saved if resume and saved.is_file() else (Path(config_path) if config_path is not None else None)
    data = read_yaml(source) if source is not None else {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of keys to values at the top level", source)
    given = merged(extra or {}, parse_overrides(list(overrides)))
    try:
        return load_config(cls, merged(_without_partners_of(cls, data, given), given))
    except ConfigError as err:
        if overrides and _loads(cls, merged(data, extra or {})):  # the file is fine: a --set value is at fault
            raise ConfigError(f"--set: {err.message}") from None
        raise ConfigError(err.message, err.path or source) from None


def _loads(cls: type, data: dict) -> bool:
    try:
        load_config(cls, data)
    except ConfigError:
        return False
    return True
