"""Helpers for the analysis tests: ../shared files, deepracer-utils beside our own `deepracer`."""

from __future__ import annotations

import importlib.util
import site
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file in ../shared, or skip with the reason (module-scoped fixtures cannot use `shared`)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the DeepRacer reference files in ../shared are not checked out here")
    return path


def load_deepracer_utils():
    """deepracer-utils installs a top-level package also called `deepracer`; ours shadows it,
    so load its files under another name (its imports inside are relative)."""
    for base in [*site.getsitepackages(), site.getusersitepackages()]:
        init = Path(base) / "deepracer" / "logs" / "__init__.py"
        if init.is_file():
            break
    else:
        raise ImportError("deepracer-utils is not installed")
    name = "deepracer_utils_shadowed"
    if name in sys.modules:
        return sys.modules[name]
    pkg = init.parent.parent
    spec = importlib.util.spec_from_file_location(name, pkg / "__init__.py", submodule_search_locations=[str(pkg)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def deepracer_utils_or_skip():
    try:
        return load_deepracer_utils()
    except Exception as err:  # not installed, or its own dependencies (boto3, joblib) missing
        pytest.skip(f"deepracer-utils cannot be imported: {err}")
