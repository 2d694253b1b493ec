"""`deepracer reward validate` and `deepracer train` as a user runs them."""

from __future__ import annotations

import json

import pytest
from reward_files import reward_file

from deepracer.cli import main

pytestmark = pytest.mark.integration  # real (tiny) trainings: minutes on 2 cores, the second tier


@pytest.mark.parametrize("name", ["follow_center_line.py", "stay_inside_borders.py", "prevent_zig_zag.py",
                                  "legacy_2018.py"])
def test_validate_accepts_working_functions(name, capsys):
    assert main(["reward", "validate", str(reward_file(name))]) == 0
    out = capsys.readouterr().out
    assert "off track" in out and "facing backwards" in out and "reversed track" in out and "OK" in out


def test_validate_accepts_the_console_default(shared, capsys):
    assert main(["reward", "validate", str(shared("deepracer-formats", "reward_function.py")), "--track", "oval"]) == 0


@pytest.mark.parametrize("body, problem", [
    # fails only once the car is off the track
    ("def reward_function(params):\n    if not params['all_wheels_on_track']:\n        return float('nan')\n"
     "    return 1.0\n", "line 3: returned nan"),
    # fails only on the reversed track
    ("def reward_function(params):\n    if params['is_reversed']:\n        raise ValueError('no')\n    return 1.0\n",
     "line 3: raised ValueError"),
    # fails only when steering hard
    ("def reward_function(params):\n    return 1.0 / (30 - abs(params['steering_angle']))\n",
     "line 2: raised ZeroDivisionError"),
    ("def reward_function(params):\n    return 'fast'\n", "not a number"),
])
def test_validate_rejects_with_file_and_problem(tmp_path, capsys, body, problem):
    path = tmp_path / "my_reward.py"
    path.write_text(body)
    assert main(["reward", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and problem in err


def test_validate_unknown_track(capsys):
    assert main(["reward", "validate", str(reward_file("follow_center_line.py")), "--track", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_train_command_reports_and_bundles(tmp_path, capsys):
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"num_episodes_between_training": 3, "rollout_steps": 64, "batch_size": 32,
                              "num_epochs": 1}))
    out = tmp_path / "run"
    bundle = tmp_path / "models" / "mine.tar.gz"
    code = main(["train", "--out", str(out), "--steps", "200", "--envs", "1", "--hyperparameters", str(hp),
                 "--max-steps", "100", "--bundle", str(bundle), "--no-progress", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] >= 200 and result["iterations"] >= 1
    from deepracer.model.package import check_model_package

    assert check_model_package(bundle) == []


def test_train_bad_hyperparameters_exit_2(tmp_path, capsys):
    hp = tmp_path / "hp.json"
    hp.write_text('{"lr": "fast"}')
    assert main(["train", "--out", str(tmp_path / "o"), "--hyperparameters", str(hp)]) == 2
    assert "lr must be a float" in capsys.readouterr().err
