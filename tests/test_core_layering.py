"""The core (deepracer/, except the application layer cli.py and commands/) never imports ROS
or the node layer: not at import time, and not lazily inside a function."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "deepracer"
FORBIDDEN = ("rclpy", "deepracer_nodes", "launch", "launch_ros", "rosidl_runtime_py", "std_msgs", "geometry_msgs",
             "sensor_msgs", "nav_msgs", "rcl_interfaces")
APPLICATION = ("deepracer.cli", "deepracer.commands")  # the application layer wires core and nodes together


def _core_modules() -> list[str]:
    out = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(APPLICATION):
            out.append(name)
    return out


def _is_forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN


def test_no_core_module_imports_ros_or_the_nodes_even_lazily():
    offenders = []
    for name in _core_modules():
        path = REPO / Path(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                offenders += [f"{name}: import {a.name}" for a in node.names if _is_forbidden(a.name)]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _is_forbidden(node.module):
                offenders.append(f"{name}: from {node.module} import ...")
    assert offenders == []


BLOCKER = """
import importlib.abc, importlib.machinery, sys
FORBIDDEN = {forbidden!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in FORBIDDEN:
            raise ImportError(f"blocked: {{fullname}} (the core must not import it)")
        return None
sys.meta_path.insert(0, Block())
import importlib
failed = []
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except ImportError as err:
        if "blocked:" in str(err):
            failed.append(f"{{name}}: {{err}}")
        # other missing optional packages (tensorflow, a console extra) are not this test's concern
print("\\n".join(failed))
"""


def test_every_core_module_imports_with_ros_and_the_nodes_blocked():
    code = BLOCKER.format(forbidden=FORBIDDEN, modules=_core_modules())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "", out.stdout
