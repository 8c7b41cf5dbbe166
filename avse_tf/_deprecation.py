"""Old import paths kept for one release: each name resolves to its new home with a DeprecationWarning."""

from __future__ import annotations

import importlib
import warnings


def moved(old: str, new_module: str, name: str | None = None):
    """Warn that ``old`` moved and return ``new_module`` (or its attribute ``name``)."""
    target = f"{new_module}.{name}" if name else new_module
    warnings.warn(f"{old} moved to {target}; the old path goes away in the next release",
                  DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new_module)
    return getattr(module, name) if name else module


def alias_module(old: str, new_modules: tuple):
    """A module ``__getattr__`` for a deprecated module: names are looked up in ``new_modules``."""

    def __getattr__(name):
        for new_module in new_modules:
            module = importlib.import_module(new_module)
            if hasattr(module, name):
                return moved(f"{old}.{name}", new_module, name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    return __getattr__
