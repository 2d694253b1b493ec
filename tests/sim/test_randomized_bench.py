"""`deepracer bench randomized`: laps with the simulator's domain randomisation, counted per track."""

from __future__ import annotations

import argparse

from deepracer.paths import REPO_ROOT
from deepracer.sim.randomized_bench import drive, run


def test_counts_laps_per_track_and_lists_the_failures() -> None:
    from deepracer.model.policy import OnnxPolicy

    model = str(REPO_ROOT / "models" / "deepracer-default.tar.gz")
    result = run(argparse.Namespace(model=model, tracks=["oval"], routes=[], seeds=2, json=True))
    assert result["episodes"] == 2 and result["seeds"] == 2
    assert result["laps"] == result["laps_per_track"]["oval"] == 2 - len(result["failed"])
    assert result["lap_rate"] == result["laps"] / 2
    # each episode is its own draw: the same seed gives the same lap, another seed another world
    policy = OnnxPolicy(model)
    a, b, c = drive(policy, "oval", 0), drive(policy, "oval", 0), drive(policy, "oval", 1)
    assert a == b and a["seed"] == 0 and c["seed"] == 1
    assert a["status"] == "lap_complete" and a["lap_time_s"] > 0


def test_first_seed_draws_other_worlds(monkeypatch) -> None:
    import deepracer.sim.randomized_bench as bench

    seen: list[int] = []

    def recording(policy, track, seed):
        seen.append(seed)
        return drive(policy, track, seed)

    monkeypatch.setattr(bench, "drive", recording)
    model = str(REPO_ROOT / "models" / "deepracer-default.tar.gz")
    result = run(argparse.Namespace(model=model, tracks=["oval"], routes=[], seeds=2, first_seed=12, json=True))
    assert seen == [12, 13] and result["first_seed"] == 12 and result["episodes"] == 2


def test_bad_seed_ranges_are_refused_by_name() -> None:
    import subprocess
    import sys

    for flags in (["--first-seed", "-3"], ["--seeds", "0"]):
        proc = subprocess.run([sys.executable, "-m", "deepracer.cli", "bench", "randomized", "--tracks", "oval", *flags],
                              capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
        assert proc.returncode == 2 and "--first-seed must be 0 or more and --seeds 1 or more" in proc.stderr
        assert "Traceback" not in proc.stderr
