"""Optional extras, imported when first used: a missing one is one clear error naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from depthlab.errors import DepthlabError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` (a package of the optional extra ``extra``), or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DepthlabError(f"{purpose} needs {module}: pip install 'depthlab[{extra}]'") from None
