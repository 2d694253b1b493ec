"""Shared fixtures. ROS tests get a private DDS domain so parallel runs never cross-talk."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest

# Before any rclpy import: one DDS domain per test process, discovery on this host only.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "0")
# Tests never read or write the user's own track library (~/.local/share/deepracer/tracks).
os.environ["DEEPRACER_TRACKS_DIR"] = tempfile.mkdtemp(prefix="deepracer-tracks-")

from testenv import IN_CI, REPO, SHARED, skip_or_fail

__all__ = ["REPO", "SHARED", "shared_path", "skip_or_fail"]


def shared_path(*parts: str) -> Path:
    """A file in ../shared, or skip the test with the reason when it is absent (fail under CI=1)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"{path} is absent: the DeepRacer reference files in ../shared are not checked out here")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Under CI=1 a module skipped by `pytest.importorskip` (rclpy, a node module) fails: there a
    missing module is a broken install, not an optional feature."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if "could not import" in reason or "No module named" in reason:
            report.outcome = "failed"
            report.longrepr = f"CI=1: {reason} (a missing module is a broken install here)"


@pytest.fixture
def shared():
    return shared_path


@pytest.fixture
def ros_context():
    """An initialised rclpy context of its own, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    if ctx.ok():
        rclpy.shutdown(context=ctx)
