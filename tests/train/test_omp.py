"""Training processes get OMP_WAIT_POLICY=PASSIVE before torch loads, unless the user chose one."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import os, sys\n"
    "from deepracer.train.omp import prefer_passive_wait\n"
    "set_now = prefer_passive_wait()\n"
    "import torch\n"
    "print(set_now, os.environ.get('OMP_WAIT_POLICY'), prefer_passive_wait())\n"
)


def _probe(env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    return out.stdout.split()


def test_passive_unless_the_user_chose_a_policy() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    # set before torch loads; asked again once torch is loaded, it is too late and says so
    assert _probe(env) == ["True", "PASSIVE", "False"]
    assert _probe({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == ["False", "ACTIVE", "False"]


def test_bench_train_runs_with_it_as_deepracer_train_does() -> None:
    import json

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-m", "deepracer.cli", "bench", "train", "--steps", "64", "--repeat", "1",
                          "--envs", "2", "--json"], env=env, capture_output=True, text=True, timeout=240, check=True)
    result = json.loads(out.stdout)
    assert result["omp_wait_policy"] == "PASSIVE" and result["env_steps_per_s"] > 0
