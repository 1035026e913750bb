"""What flavors share about their frameworks: importing one lazily, and its thread count.

A flavor imports its framework inside `load` only (the registry imports every flavor module
to list them), and a missing framework is a one-line error naming the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from turnout.models.errors import ModelLoadError

DEFAULT_THREADS = 1  # 2-core machines: the router and the other instances share the cores
MAX_THREADS = 256


def import_framework(module: str, flavor: str, package: str) -> ModuleType:
    """Import `module` for `flavor`; ModelLoadError with the pip command if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ModelLoadError(
            f"the {flavor} flavor needs {package}, which cannot be imported ({err}): "
            f"pip install 'turnout[{flavor}]'"
        ) from None


def threads(environment: Mapping[str, str], variable: str) -> int:
    """The threads one predict call may use: `variable` in the environment, else 1."""
    text = environment.get(variable, "").strip()
    if not text:
        return DEFAULT_THREADS
    if not text.isdigit() or not 1 <= int(text) <= MAX_THREADS:
        raise ModelLoadError(f"{variable}={text!r}: give a whole number from 1 to {MAX_THREADS}")
    return int(text)
