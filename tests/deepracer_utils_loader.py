"""deepracer-utils, the community's log-analysis package, for cross-checking our figures.

It ships a top-level package also named `deepracer`, so `make setup-train` installs it off
sys.path in `.venv/opt/deepracer-utils`; it is loaded from there under another name.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

NAME = "deepracer_utils"


def utils_dir() -> Path:
    return Path(sys.prefix) / "opt" / "deepracer-utils" / "deepracer"


def load_deepracer_utils():
    if NAME in sys.modules:
        return sys.modules[NAME]
    init = utils_dir() / "__init__.py"
    if not init.is_file():
        raise ImportError(f"deepracer-utils is not installed in {init.parent.parent} (make setup-train)")
    spec = importlib.util.spec_from_file_location(NAME, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[NAME]
        raise
    return module


def deepracer_utils_or_skip():
    """The loaded package, or skip with the reason (not installed, or its dependencies missing)."""
    try:
        return load_deepracer_utils()
    except Exception as err:
        pytest.skip(f"deepracer-utils cannot be imported: {err}")
