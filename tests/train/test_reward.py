"""Reward functions: console files and the 2018 signature load; bad ones stop with file, line, params."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from reward_files import reward_file

from deepracer.errors import RewardFunctionError
from deepracer.train.reward import RewardFunction, default_reward_path

HERE = Path(__file__).resolve().parent


def params(**over):
    p = {
        "all_wheels_on_track": True, "x": 1.0, "y": 2.0, "heading": 90.0, "distance_from_center": 0.02,
        "is_left_of_center": True, "is_offtrack": False, "is_reversed": False, "progress": 12.5,
        "speed": 1.0, "steering_angle": 0.0, "steps": 10, "track_length": 17.7, "track_width": 0.6,
        "waypoints": [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.5)],
        "closest_waypoints": [1, 2], "closest_objects": [0, 0], "objects_location": [],
        "objects_left_of_center": [], "object_in_camera": False, "objects_speed": [], "objects_heading": [],
        "objects_distance": [], "is_crashed": False,
    }
    p.update(over)
    return p


def write(tmp_path: Path, body: str, name: str = "reward.py") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("name", ["follow_center_line.py", "stay_inside_borders.py", "prevent_zig_zag.py"])
def test_console_examples_reward_the_centre_more_than_the_edge(name):
    fn = RewardFunction(reward_file(name))
    centre = fn(params(distance_from_center=0.0))
    edge = fn(params(distance_from_center=0.29, all_wheels_on_track=True))
    assert centre == 1.0
    assert edge < centre


def test_zig_zag_example_penalises_hard_steering():
    fn = RewardFunction(reward_file("prevent_zig_zag.py"))
    assert fn(params(steering_angle=-30.0)) == pytest.approx(0.8 * fn(params(steering_angle=0.0)))


def test_deepracer_for_cloud_default_file_loads(shared):
    fn = RewardFunction(shared("deepracer-formats", "reward_function.py"))
    assert fn(params()) == 1.0
    # the package ships the same function as its default
    assert RewardFunction(default_reward_path())(params(steering_angle=20.0)) == fn(params(steering_angle=20.0))


def test_legacy_2018_signature_gets_positional_arguments():
    fn = RewardFunction(reward_file("legacy_2018.py"))
    assert fn.legacy
    assert fn(params(distance_from_center=0.0)) == pytest.approx(1.0)
    assert fn(params(all_wheels_on_track=False)) == pytest.approx(1e-3)


def test_allowed_libraries_import(tmp_path):
    path = write(tmp_path, "import math, random\nimport numpy as np\nimport scipy\nimport shapely.geometry\n"
                 "def reward_function(params):\n    return float(np.clip(math.sqrt(4.0), 0, 1))\n")
    assert RewardFunction(path)(params()) == 1.0


def test_params_are_a_copy(tmp_path):
    path = write(tmp_path, "def reward_function(params):\n    params['x'] = 99\n    return 1.0\n")
    p = params()
    RewardFunction(path)(p)
    assert p["x"] == 1.0


def test_exception_names_file_line_and_params(tmp_path):
    path = write(tmp_path, "def reward_function(params):\n    a = 1\n    return params['no_such_key']\n")
    with pytest.raises(RewardFunctionError) as err:
        RewardFunction(path)(params())
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and "KeyError" in msg
    assert "distance_from_center=0.02" in msg and "waypoints=<5 items>" in msg


@pytest.mark.parametrize("value, problem", [
    ("float('nan')", "nan"), ("math.inf", "inf"), ("'1.0'", "not a number"), ("None", "not a number"),
    ("2e5", "outside"), ("-1e6", "outside"), ("True", "not a number"),
])
def test_bad_values_stop_with_the_returning_line(tmp_path, value, problem):
    path = write(tmp_path, "import math\ndef reward_function(params):\n    if params['x'] > 100:\n"
                 "        return 1.0\n    return " + value + "\n")
    with pytest.raises(RewardFunctionError) as err:
        RewardFunction(path)(params())
    msg = str(err.value)
    assert problem in msg and "line 5" in msg and str(path) in msg


def test_good_values_pass_through(tmp_path):
    path = write(tmp_path, "import numpy as np\ndef reward_function(params):\n    return np.float32(-3.5)\n")
    assert RewardFunction(path)(params()) == -3.5
    assert isinstance(RewardFunction(path)(params()), float)
    assert not math.isnan(RewardFunction(path)(params()))


@pytest.mark.parametrize("body, problem", [
    ("def reward_function(params)\n    return 1.0\n", "line 1: syntax error"),
    ("def other(params):\n    return 1.0\n", "no function named reward_function"),
    ("import no_such_module_xyz\ndef reward_function(params):\n    return 1.0\n", "line 1: loading failed"),
    ("def reward_function(a, b):\n    return 1.0\n", "takes 2 arguments"),
])
def test_files_that_cannot_load(tmp_path, body, problem):
    path = write(tmp_path, body)
    with pytest.raises(RewardFunctionError) as err:
        RewardFunction(path)
    assert problem in str(err.value) and str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(RewardFunctionError, match="not found"):
        RewardFunction(tmp_path / "absent.py")


def test_pickles_for_subprocess_environments(tmp_path):
    import pickle

    fn = pickle.loads(pickle.dumps(RewardFunction(reward_file("follow_center_line.py"))))
    assert fn(params()) == 1.0


@pytest.mark.parametrize(("name", "at_border"), [("progress_speed.py", 0.5), ("progress_speed_wide.py", 0.75)])
def test_progress_rewards_scale_the_progress_gained_by_the_distance_from_the_centre(name, at_border):
    """The bundled model's rewards: the progress gained on a step, x1 on the centre line down to
    x0.5 (progress_speed) or x0.75 (progress_speed_wide, its later fine-tunes) at the border."""
    root = Path(__file__).resolve().parents[2] / "deepracer" / "train" / "rewards"
    for off_centre, factor in ((0.0, 1.0), (0.3, at_border)):  # track_width 0.6: 0.3 m is the border
        fn = RewardFunction(root / name)
        fn(params(steps=1, progress=10.0))  # the episode's first step: nothing gained yet
        gained = fn(params(steps=2, progress=12.0, distance_from_center=off_centre))
        assert gained == pytest.approx(1e-3 + 2.0 * factor)
    assert fn(params(steps=3, progress=13.0, is_offtrack=True)) == pytest.approx(1e-3)
