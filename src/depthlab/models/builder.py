"""Models from the user's own code: a builder ``build(depth: int, **kwargs) -> nn.Module`` referenced as
``path/to/file.py:build`` or ``package.module:build``, wherever a model name is accepted.

The builder's signature is its config: each parameter becomes a field of a dataclass (its annotation, else its
default's type), so ``key=value`` overrides are checked and coerced exactly as a registered model's are, with
the same one-line errors. ``input_shape`` and ``num_classes`` (from the data) are passed only when the builder
has parameters of those names. A file is imported by path under a name that includes its content hash, so an
edited file is imported afresh, and spawned workers or Ray tasks import it the same way from the reference
alone. timm's convention works too: ``@register_model`` on a builder in the user's package registers it under
the function's name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from depthlab.errors import DepthlabError, unknown

FROM_DATA = ("input_shape", "num_classes")
TOKEN_KEYS = ("task", "vocab_size")  # what token data also fixes (``Dataset.model_kwargs``), when it does
REQUIRED = type("Required", (), {"__repr__": lambda self: "<required>"})()  # a parameter without a default
_SIMPLE = (bool, int, float, str)
_FILES: dict[tuple[str, str], Any] = {}  # (path, sha256) -> module


def is_reference(name: object) -> bool:
    """``file.py:fn`` or ``pkg.module:fn`` (a registered name has no colon)."""
    if not isinstance(name, str) or name.count(":") != 1:
        return False
    target, func = name.split(":")
    return bool(target) and func.isidentifier() and (target.endswith(".py") or _dotted(target))


def _dotted(target: str) -> bool:
    return all(part.isidentifier() for part in target.split("."))


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_file(path: Path) -> Any:
    """Import a Python file by path (its folder on sys.path while it runs, for its own helper modules)."""
    sha = file_sha256(path)
    key = (str(path), sha)
    if key in _FILES:
        return _FILES[key]
    name = f"depthlab_user.{path.stem}_{sha[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickle look a module up by name
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise DepthlabError(f"{path}: importing it raised {_one_line(err)}") from None
    finally:
        sys.path.remove(str(path.parent))
    _FILES[key] = module
    return module


def _module(target: str) -> Any:
    if target.endswith(".py"):
        path = Path(target).expanduser()
        if not path.is_file():
            raise DepthlabError(f"builder file {target!r} does not exist (expected path/to/file.py:function)")
        return import_file(path.resolve())
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        raise DepthlabError(
            f"no module named {err.name!r} (for builder {target!r}; is it installed?)"
        ) from None
    except Exception as err:
        raise DepthlabError(f"{target}: importing it raised {_one_line(err)}") from None


def load_builder(ref: str) -> Callable[..., Any]:
    """The builder function a reference names; a missing file, module or function raises one line."""
    target, func = ref.split(":")
    module = _module(target)
    fn = getattr(module, func, None)
    if fn is None:
        public = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise unknown(f"function in {target}", func, public)
    if not callable(fn):
        raise DepthlabError(f"{ref}: {func} is a {type(fn).__name__}, not a function")
    return fn


def _hints(fn: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve: treat the parameters as unannotated
        return {}


def config_class(fn: Callable, label: str) -> type:
    """A dataclass with one field per named parameter of ``fn`` (type: annotation, else its default's)."""
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if "depth" not in [p.name for p in params]:
        raise DepthlabError(
            f"builder {label} has no 'depth' parameter (expected build(depth: int, **kwargs))"
        )
    hints, fields = _hints(fn), []
    for p in params:
        default = p.default
        tp = hints.get(p.name) or (type(default) if isinstance(default, _SIMPLE) else Any)
        fields.append((p.name, tp, dataclasses.field(default=REQUIRED if default is p.empty else default)))

    def __post_init__(config) -> None:  # a parameter without a default must be set
        missing = [f.name for f in dataclasses.fields(config) if getattr(config, f.name) is REQUIRED]
        if missing:
            raise DepthlabError(f"builder {label}: set {', '.join(f'{m}=...' for m in missing)} (no default)")

    name = getattr(fn, "__name__", "build")
    return dataclasses.make_dataclass(name, fields, kw_only=True, namespace={"__post_init__": __post_init__})


def _literal(value: Any) -> Any:
    """A command-line string for an unannotated parameter: int, float, bool or none if it reads as one."""
    if not isinstance(value, str):
        return value
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def call_builder(fn: Callable, label: str, config: Any) -> nn.Module:
    """Call the builder with the config's values; its exception or a non-Module result raises one line."""
    types = {f.name: f.type for f in dataclasses.fields(config)}
    kwargs = {k: _literal(v) if types[k] is Any else v for k, v in dataclasses.asdict(config).items()}
    try:
        model = fn(**kwargs)
    except Exception as err:
        raise DepthlabError(f"builder {label} raised {_one_line(err)}") from None
    if not isinstance(model, nn.Module):
        raise DepthlabError(f"builder {label} returned {type(model).__name__}, not a torch.nn.Module")
    if not hasattr(model, "config"):
        model.config = config  # what reports and inspect read (the builder's resolved arguments)
    return model


def builder_parts(fn: Callable, label: str | None = None) -> tuple[type, Callable[[Any], nn.Module], tuple]:
    """(config class, build(config), data keys it lacks) of a builder: the pieces of its registry entry."""
    label = label or getattr(fn, "__name__", repr(fn))
    config_cls = config_class(fn, label)
    accepted = {f.name for f in dataclasses.fields(config_cls)}
    ignores = tuple(k for k in (*FROM_DATA, *TOKEN_KEYS) if k not in accepted)
    return config_cls, lambda config: call_builder(fn, label, config), ignores


def _source_file(fn: Callable) -> Path | None:
    try:
        source = inspect.getsourcefile(fn)
    except TypeError:
        return None
    return Path(source) if source else None


def source_hash(name: str, source: Callable | None = None) -> str | None:
    """sha256 (16 hex digits) of the file defining a builder reference, or defining ``source`` (a registered
    builder function); None when there is no such file."""
    if is_reference(name):
        target = name.split(":")[0]
        path = Path(target).expanduser() if target.endswith(".py") else _source_file(load_builder(name))
    else:
        path = _source_file(source) if source is not None else None
    return file_sha256(path.resolve())[:16] if path and path.is_file() else None
