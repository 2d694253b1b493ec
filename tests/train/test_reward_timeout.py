"""A reward function that never returns: the time limit per call turns it into a reward error
(file, line, params) in validation and in training instead of a hang."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepracer.errors import RewardFunctionError
from deepracer.train.reward import RewardFunction

FOREVER = "def reward_function(params):\n    while True:\n        pass\n"
LATE = ("def reward_function(params):\n    if params['steps'] >= 40:\n        while True:\n            pass\n"
        "    return 1.0\n")
SWALLOWS = ("def reward_function(params):\n    while True:\n        try:\n            while True:\n"
            "                pass\n        except BaseException:\n            pass\n")


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "reward_function.py"
    path.write_text(body)
    return path


def test_call_over_the_limit_is_a_reward_error(tmp_path: Path) -> None:
    fn = RewardFunction(_file(tmp_path, FOREVER), timeout_s=0.3)
    t = time.monotonic()
    with pytest.raises(RewardFunctionError) as err:
        fn({"steps": 1.0, "progress": 0.0})
    assert time.monotonic() - t < 3
    text = str(err.value)
    assert str(tmp_path / "reward_function.py") in text and "line 2" in text or "line 3" in text
    assert "did not return within 0.3 s" in text and "steps=1.0" in text


def test_a_function_that_swallows_the_timeout_ends_the_process_with_the_reason(tmp_path: Path) -> None:
    code = (f"from deepracer.train.reward import RewardFunction\n"
            f"RewardFunction({str(_file(tmp_path, SWALLOWS))!r}, timeout_s=0.2)({{}})\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "reward_function.py: the reward function did not return and kept catching its time limit" in r.stderr


def test_fast_functions_are_untouched_and_the_limit_survives_pickling(tmp_path: Path) -> None:
    import pickle

    fn = RewardFunction(_file(tmp_path, "def reward_function(params):\n    return 2.5\n"), timeout_s=0.05)
    assert [fn({}) for _ in range(1000)] == [2.5] * 1000  # no stray alarm afterwards either
    time.sleep(0.1)
    assert pickle.loads(pickle.dumps(fn)).timeout_s == 0.05


def test_validate_command_times_out(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "deepracer.cli", "reward", "validate", str(_file(tmp_path, FOREVER)),
                        "--reward-timeout", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "did not return within 1 s" in r.stderr and "reward_function.py" in r.stderr and "params:" in r.stderr


def test_training_times_out_in_subprocess_environments(tmp_path: Path) -> None:
    """Two environments in two worker processes: the limit holds in each worker's main thread."""
    r = subprocess.run([sys.executable, "-m", "deepracer.cli", "train", "--reward", str(_file(tmp_path, LATE)),
                        "--track", "oval", "--steps", "400", "--envs", "2", "--workers", "2", "--max-steps", "80",
                        "--reward-timeout", "0.5", "--no-progress", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode != 0, r.stdout
    assert "did not return within 0.5 s" in r.stderr and "steps=40" in r.stderr, r.stderr[-2000:]


def test_live_view_writes_frames_only_while_watched(tmp_path: Path) -> None:
    import numpy as np

    from deepracer.train.live import FRAME_FILE, LIVE_DIR, LiveView, watch

    view = LiveView(tmp_path, "oval", fps=1000)
    obs = np.zeros((1, 1, 120, 160), np.uint8)  # SB3 hands CNN policies channels-first frames
    info = {"x": 0.0, "y": 0.0, "yaw_deg": 90.0, "speed": 1.0, "progress": 12.0}
    view.step(obs, [info])
    assert not (tmp_path / LIVE_DIR / FRAME_FILE).exists()  # nobody watches: nothing written
    watch(tmp_path)
    view._next_check = 0.0
    view.step(obs, [info])
    frame = (tmp_path / LIVE_DIR / FRAME_FILE).read_bytes()
    import cv2

    image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[0] == 240 and image.shape[1] > 320  # camera (320 wide at 240 high) beside the track
