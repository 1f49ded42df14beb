"""Settings as a frozen, strict pydantic schema: read from a TOML file, each key overridable by an environment
variable ``<PREFIX>_<SECTION>_<KEY>`` and, through ``replaced``, by the command line. All three pass the schema's
rules, and the first broken value is said in one sentence naming the key as it was given. This module knows no
key: kos/config.py is the schema."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, ValidationError
from pydantic_core import PydanticCustomError

from kos.errors import KosError

__all__ = ["ConfigError", "Section", "like", "read", "replaced", "rule"]

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(KosError, ValueError):
    """A configuration value is missing, unknown or not what its key allows; the message names the key."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def rule(holds: Callable[[Any], bool], must: str) -> AfterValidator:
    """A value's rule, broken as ``must be …, not <value>``."""
    def check(value: Any) -> Any:
        if not holds(value):
            raise PydanticCustomError("kos", f"{must}, not {{value}}", {"value": repr(value)})
        return value
    return AfterValidator(check)


def like(pattern: str, what: str) -> AfterValidator:
    """A text's rule: matches ``pattern``, which stands for ``what``."""
    return rule(lambda value: re.fullmatch(pattern, value) is not None, f"must be {what}")


def read(model: type[Model], path: Path, environ: Mapping[str, str], prefix: str, **fixed: Any) -> Model:
    """``model`` from the TOML file at ``path`` (its defaults where a table leaves keys out), overridden by
    ``environ``'s ``<prefix>_*`` variables; ``fixed``: values of keys the file does not hold."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        why = {FileNotFoundError: "does not exist", UnicodeDecodeError: "is not UTF-8 text",
               tomllib.TOMLDecodeError: f"is not valid TOML: {exc}"}.get(type(exc), f"cannot be read: {exc}")
        raise ConfigError(f"config file {path} {why}") from None
    unknown = sorted(set(raw) - set(model.model_fields) - set(fixed))
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]")
    data = _merged(model().model_dump(), raw)
    names: dict[tuple[str, ...], str] = {}
    for keys, hint in _keys(model):
        variable = "_".join((prefix, *keys)).upper()
        if variable in environ:
            *tables, key = keys
            table = data
            for name in tables:
                table = table[name]
            table[key], names[keys] = _from_text(variable, hint, environ[variable]), variable
    return _built(model, {**data, **fixed}, names, path)


def replaced(value: Model, section: str, values: Mapping[str, tuple[object, str]]) -> Model:
    """``value`` with keys of ``section`` replaced: ``{key: (new value, the name it was given by)}``, None left
    out, under the same rules; a broken one is named as given (``--lines-per-record``)."""
    given = {key: new for key, (new, _) in values.items() if new is not None}
    if not given:
        return value
    data = value.model_dump()
    data[section].update(given)
    data.update({name: getattr(value, name) for name, field in type(value).model_fields.items() if field.exclude})
    return _built(type(value), data, {(section, key): name for key, (_, name) in values.items()}, None)


_TYPES = {"int_type": "of type int", "float_type": "of type float", "string_type": "of type str",
          "bool_type": "of type bool", "tuple_type": "a list of strings"}


def _built(model: type[Model], data: dict[str, Any], names: Mapping[tuple[str, ...], str],
           path: Path | None) -> Model:
    """The ``model`` of ``data``, or a ConfigError naming the first broken key as it was given."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
    ctx = error.get("ctx") or {}
    loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int)) + tuple(ctx.get("key", "").split())
    key, kind, value, name = ".".join(loc), error["type"], error.get("input"), names.get(loc)
    if kind == "extra_forbidden":
        raise ConfigError(f"unknown config key {key}")
    if kind in ("model_type", "dict_type") and len(loc) == 1:
        raise ConfigError(f"{path}: [{key}] must be a table")
    problem = {"kos": error["msg"], "literal_error": f"must be {ctx.get('expected')}, not {value!r}",
               "finite_number": f"must be a finite number, not {value!r}"}.get(kind)
    if problem is None:
        problem = f"must be {_TYPES.get(kind, 'valid')}" + (f", not {value!r}" if name else "")
    raise ConfigError(f"{name} ({key}) {problem}" if name else f"config key {key} {problem}")


def _keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every key of the schema (nested tables too) and its type: what the environment may override."""
    found = []
    for name, field in model.model_fields.items():
        hint = field.annotation
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            found += _keys(hint, (*prefix, name))
        elif not field.exclude:
            found.append(((*prefix, name), hint))
    return found


def _merged(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` over ``defaults``, table by table (a table that gives some keys keeps the others' defaults);
    TOML's lists as the schema's tuples."""
    merged = dict(defaults)
    for key, value in given.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both else tuple(value) if isinstance(value, list) else value
    return merged


def _from_text(name: str, hint: Any, text: str) -> Any:
    """An environment variable's text as the key's type (lists comma-separated)."""
    base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    if get_origin(base) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if base is bool:
        if text.strip().lower() not in ("true", "1", "yes", "false", "0", "no"):
            raise ConfigError(f"environment variable {name} must be true or false (also 1/0, yes/no), not {text!r}")
        return text.strip().lower() in ("true", "1", "yes")
    try:
        return base(text) if base in (int, float, SecretStr) else text
    except ValueError:
        raise ConfigError(f"environment variable {name} must be of type {base.__name__}, not {text!r}") from None
