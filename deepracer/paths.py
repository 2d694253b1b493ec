"""Where installed data lives: a source checkout, a pip install or a colcon install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "deepracer"
REPO_ROOT = Path(__file__).resolve().parent.parent


def share_dir() -> Path:
    """The folder holding launch/, config/, models/, udev/, systemd/.

    A source checkout (also `pip install -e`) wins, then `<prefix>/share/deepracer`
    (pip), then the ament index (colcon on a car).
    """
    if (REPO_ROOT / "package.xml").is_file() and (REPO_ROOT / "launch").is_dir():
        return REPO_ROOT
    prefix_share = Path(sys.prefix) / "share" / PACKAGE
    if prefix_share.is_dir():
        return prefix_share
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # not installed through colcon
        return REPO_ROOT


def bundled_model() -> Path:
    """The bundled model package; `DEEPRACER_MODEL` overrides it."""
    override = os.environ.get("DEEPRACER_MODEL")
    if override:
        return Path(override)
    models = share_dir() / "models"
    for candidate in sorted(models.glob("*.tar.gz")) + sorted(p for p in models.glob("*") if p.is_dir()):
        return candidate
    return models / "deepracer-default.tar.gz"


def config_file(name: str) -> Path:
    return share_dir() / "config" / name
