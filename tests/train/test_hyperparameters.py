"""DeepRacer's hyperparameters.json: defaults, DRfC's file, bad values, unknown keys."""

from __future__ import annotations

import json

import pytest

from deepracer.errors import ConfigError
from deepracer.train.hyperparameters import HyperParameters


def test_deepracer_for_cloud_file_loads(shared):
    hp = HyperParameters.from_file(shared("deepracer-formats", "hyperparameters.json"))
    assert hp.batch_size == 64 and hp.num_epochs == 5 and hp.lr == pytest.approx(3e-4)
    assert hp.loss_type == "huber" and hp.huber and hp.sac_alpha == pytest.approx(0.2)
    assert hp.num_episodes_between_training == 20 and hp.stack_size == 1


def test_defaults_are_deepracers():
    hp = HyperParameters()
    assert (hp.batch_size, hp.beta_entropy, hp.discount_factor, hp.lr) == (64, 0.01, 0.99, 0.0003)
    assert hp.exploration_type == "categorical" and hp.term_cond_max_episodes == 1000


def test_unknown_keys_warn_and_are_ignored(tmp_path):
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"batch_size": 32, "turbo_mode": True}))
    with pytest.warns(UserWarning, match="turbo_mode"):
        hp = HyperParameters.from_file(path)
    assert hp.batch_size == 32


def test_numbers_written_as_strings_or_floats_are_accepted(tmp_path):
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"batch_size": "128", "num_epochs": 3.0, "loss_type": "Mean squared error"}))
    hp = HyperParameters.from_file(path)
    assert hp.batch_size == 128 and hp.num_epochs == 3 and not hp.huber


@pytest.mark.parametrize("data, problem", [
    ({"batch_size": "many"}, "batch_size must be a int"),
    ({"lr": -1}, "lr must be positive"),
    ({"discount_factor": 1.5}, "discount_factor"),
    ({"loss_type": "l1"}, "loss_type"),
    ({"num_epochs": 2.5}, "num_epochs must be a int"),
])
def test_bad_values_name_the_key_and_file(tmp_path, data, problem):
    path = tmp_path / "hp.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        HyperParameters.from_file(path)
    assert problem in str(err.value) and str(path) in str(err.value)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "hp.json"
    path.write_text('{\n  "lr": 0.1,\n}')
    with pytest.raises(ConfigError, match="line 3"):
        HyperParameters.from_file(path)
