"""The Validate button: the console's static rules, then `deepracer reward validate` in a process
of its own (untrusted code never runs in the server), with its time limit per call.

Static rules, as DeepRacer on AWS's validator: imports only from math, random, numpy, scipy and
shapely; no call named open, exec, eval, compile or input. (Its banned-substring list, which
also rejects a comment containing "load", is left out: the two rules above carry its intent.)
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from deepracer_console.sandbox import VALIDATION_SLOT, Sandbox
from deepracer_console.schemas import RewardValidation

ALLOWED_IMPORTS = ("math", "random", "numpy", "scipy", "shapely")
BANNED_CALLS = ("open", "exec", "eval", "compile", "input", "__import__")
VALIDATE_TIMEOUT_S = 120.0  # the whole run; each call has its own 5 s limit inside
_LINE = re.compile(r"line (\d+)")


def static_check(source: str) -> RewardValidation | None:
    """A failed RewardValidation, or None when the rules pass."""
    try:
        tree = ast.parse(source, "reward_function.py")
    except SyntaxError as err:
        return RewardValidation(ok=False, error=f"line {err.lineno}: syntax error: {err.msg}", line=err.lineno)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["." * node.level]
        for name in names:
            if name.split(".")[0] not in ALLOWED_IMPORTS:
                return RewardValidation(ok=False, line=node.lineno,
                                        error=f"line {node.lineno}: import of {name!r} is not allowed; "
                                              f"a reward function may import {', '.join(ALLOWED_IMPORTS)}")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in BANNED_CALLS:
                return RewardValidation(ok=False, line=node.lineno,
                                        error=f"line {node.lineno}: calling {called}() is not allowed in a reward function")
    has_function = any(isinstance(n, ast.FunctionDef) and n.name == "reward_function" for n in tree.body)
    if not has_function:
        return RewardValidation(ok=False, error="defines no function named reward_function")
    return None


def validate(source: str, work_dir: Path, track_spec: str | None, env: dict[str, str] | None = None,
             sandbox: Sandbox | None = None, race_type: str | None = None) -> RewardValidation:
    """`race_type`: object_avoidance / head_to_bot drive the episode past objects, so a reward function
    that reads objects_location or closest_objects is checked as it will be called."""
    failed = static_check(source)
    if failed is not None:
        return failed
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reward-", dir=work_dir) as tmp:
        path = Path(tmp) / "reward_function.py"
        path.write_text(source, encoding="utf-8")
        argv = [sys.executable, "-m", "deepracer.cli", "reward", "validate", str(path)]
        if track_spec:
            argv += ["--track", track_spec]
        if race_type and race_type != "time_trial":
            argv += ["--race-type", race_type]
        preexec = None
        if sandbox is not None and sandbox.enabled:  # the user's code: in the sandbox, like a job
            sandbox.prepare([Path(tmp)], VALIDATION_SLOT)
            argv, preexec = (sandbox.wrap(argv, [Path(tmp)], VALIDATION_SLOT),
                             sandbox.preexec(VALIDATE_TIMEOUT_S))
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT_S, env=env,
                                  cwd=tmp, start_new_session=True, preexec_fn=preexec)
        except subprocess.TimeoutExpired:
            return RewardValidation(ok=False, error=f"validation did not finish within {VALIDATE_TIMEOUT_S:g} s")
        out, err = proc.stdout, proc.stderr
        for text in (str(path), str(path.resolve())):
            out, err = out.replace(text, "reward_function.py"), err.replace(text, "reward_function.py")
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        message = next((ln.split("error: ", 1)[1] for ln in lines if "error: " in ln), lines[-1] if lines else
                       f"validation failed (exit {proc.returncode})")
        message = message.removeprefix("reward_function.py: ")
        match = _LINE.match(message)
        return RewardValidation(ok=False, error=message, line=int(match.group(1)) if match else None)
    situations = []
    for line in out.splitlines():
        name, sep, value = line.rpartition(": ")
        if sep and name.strip() and not line.startswith("reward_function.py"):
            try:
                situations.append({"situation": name.strip(), "reward": float(value)})
            except ValueError:
                continue
    return RewardValidation(ok=True, situations=situations)
