"""One Compose file read into long syntax: YAML, interpolation, validation,
canonical form, then ``extends`` and ``include`` resolved."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from . import dotenv
from .interpolate import interpolate_tree
from .merge import check_size, merge, parse_yaml, strip_tags
from .normalize import canonical_file
from .validate import validate_file

RESOURCES = ("services", "networks", "volumes", "configs", "secrets")
MAX_FILE = 16 << 20


@dataclass
class Loaded:
    """A file (or an included sub-project) in long syntax, with its merge markers."""

    data: dict[str, Any]
    resets: set[tuple[str, ...]] = field(default_factory=set)
    overrides: set[tuple[str, ...]] = field(default_factory=set)


@dataclass
class Context:
    env: dict[str, str]
    warnings: list[str]
    chain: tuple[str, ...] = ()          # files being loaded (include/extends cycles)
    cache: dict[str, Any] = field(default_factory=dict)


def read_text(path: str, field_name: str, what: str = "compose file") -> str:
    try:
        if os.path.getsize(path) > MAX_FILE:
            raise InvalidInput(f"{path}: the {what} is larger than 16 MiB", field=field_name)
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such {what}", field=field_name, hint="check the path") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a directory, not a {what}", field=field_name) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{path}: cannot read the {what}: {err}", field=field_name) from None


def load_document(data: Any, source: str, base_dir: str, ctx: Context) -> Loaded:
    """A parsed document (YAML already read) through the per-file pipeline."""
    check_size(data, source)
    plain, resets, overrides = strip_tags(data)
    if plain is None:
        plain = {}
    if isinstance(plain, dict) and "version" in plain:
        ctx.warnings.append(f"{source}: the attribute `version` is obsolete, it will be ignored")
        plain = {k: v for k, v in plain.items() if k != "version"}
    plain = interpolate_tree(plain, ctx.env.get, path="", source=source)
    validate_file(plain, source)
    canon = canonical_file(plain, (source, base_dir))
    loaded = Loaded(canon, resets, overrides)
    _apply_extends(loaded.data, source, base_dir, ctx)
    if "include" in canon:
        _apply_include(loaded, source, base_dir, ctx)
    return loaded


def load_file(path: str, base_dir: str, ctx: Context, field_name: str = "files") -> Loaded:
    source = path
    text = read_text(path, field_name)
    return load_document(parse_yaml(text, source), source, base_dir, ctx)


def _file_services(path: str, ctx: Context) -> dict[str, Any]:
    """The services of another file, for extends (cached, cycles refused)."""
    real = os.path.realpath(path)
    if real in ctx.chain:
        raise InvalidInput(f"{path}: extends/include cycle: {' -> '.join([*ctx.chain, real])}", field="extends")
    if real not in ctx.cache:
        sub = Context(ctx.env, ctx.warnings, (*ctx.chain, real), ctx.cache)
        loaded = load_file(path, os.path.dirname(real), sub, field_name="extends.file")
        ctx.cache[real] = loaded.data.get("services") or {}
    return ctx.cache[real]


def _apply_extends(data: dict[str, Any], source: str, base_dir: str, ctx: Context) -> None:
    services = data.get("services") or {}
    done: dict[str, dict[str, Any]] = {}

    def resolve(name: str, pool: dict[str, Any], where: str, trail: tuple[str, ...]) -> dict[str, Any]:
        key = f"{where}#{name}"
        if key in trail:
            raise InvalidInput(f"{source}: extends cycle: {' -> '.join(t.split('#')[1] for t in (*trail, key))}",
                               field=f"services.{name}.extends")
        if pool is services and name in done:
            return done[name]
        service = pool[name]
        ext = service.get("extends")
        if not ext:
            return service
        target = ext["service"]
        other_pool, other_where = pool, where
        if ext.get("file"):
            file_path = os.path.join(base_dir if pool is services else os.path.dirname(where), ext["file"])
            other_pool, other_where = _file_services(file_path, ctx), os.path.realpath(file_path)
        if target not in other_pool:
            raise InvalidInput(f"{source}: service {name} extends {target!r}, which is not defined"
                               + (f" in {ext['file']}" if ext.get("file") else ""),
                               field=f"services.{name}.extends.service", hint="name a defined service")
        base = resolve(target, other_pool, other_where, (*trail, key))
        own = {k: v for k, v in service.items() if k != "extends"}
        merged = merge({k: v for k, v in base.items() if k != "extends"}, own, ("services", name))
        if pool is services:
            done[name] = merged
        return merged

    for name in list(services):
        services[name] = resolve(name, services, source, ())


def _apply_include(loaded: Loaded, source: str, base_dir: str, ctx: Context) -> None:
    data = loaded.data
    for i, entry in enumerate(data.pop("include")):
        spec = {"path": entry} if isinstance(entry, str) else entry
        paths = [spec["path"]] if isinstance(spec["path"], str) else spec["path"]
        paths = [os.path.normpath(os.path.join(base_dir, p)) for p in paths]
        sub_dir = os.path.normpath(os.path.join(base_dir, spec.get("project_directory") or os.path.dirname(paths[0])))
        env_files = spec.get("env_file")
        env_files = [env_files] if isinstance(env_files, str) else env_files
        env = dict(ctx.env)
        dotenv_paths = [os.path.join(base_dir, p) for p in env_files] if env_files else [os.path.join(sub_dir, ".env")]
        for path in dotenv_paths:
            if os.path.isfile(path) or env_files:
                values = _read_dotenv(path, f"include[{i}].env_file", ctx.env)
                env = {**values, **ctx.env}  # the including project's variables win
        included: dict[str, Any] = {}
        for path in paths:
            real = os.path.realpath(path)
            if real in ctx.chain:
                raise InvalidInput(f"{source}: include cycle: {' -> '.join([*ctx.chain, real])}",
                                   field=f"include[{i}]")
            if not os.path.isfile(path):
                raise InvalidInput(f"{source}: includes {path}: no such compose file", field=f"include[{i}]",
                                   hint="fix the path (relative to the including file's project directory)")
            sub = Context(env, ctx.warnings, (*ctx.chain, real), ctx.cache)
            one = load_file(path, sub_dir, sub, field_name=f"include[{i}]")
            included = merge(included, one.data, (), frozenset(one.resets), frozenset(one.overrides))
        for kind in RESOURCES:
            mine = data.get(kind) or {}
            theirs = included.get(kind) or {}
            for name in theirs:
                if name in mine:
                    raise InvalidInput(f"{source}: {kind}.{name} is defined here and in the included "
                                       f"{paths[0]}", field=f"{kind}.{name}",
                                       hint="rename one of them; an included resource cannot be overridden")
            if theirs:
                data[kind] = {**theirs, **mine}


def _read_dotenv(path: str, field_name: str, environ: dict[str, str]) -> dict[str, str]:
    text = read_text(path, field_name, what="env file")
    try:
        return dotenv.parse(text, environ.get)
    except dotenv.DotenvError as err:
        raise InvalidInput(f"{path}: {err}", field=field_name, hint="write KEY=value lines") from None


read_dotenv = _read_dotenv
