"""One source per default: the nodes declare their parameters from deepracer.node_params, and the
config files the car and the simulator start with say the same (or differ on purpose, listed here)."""

from __future__ import annotations

import dataclasses

import pytest

from deepracer.errors import ConfigError
from deepracer.graph import load_params_file
from deepracer.node_params import ServoNodeParams, SimNodeParams, defaults
from deepracer.paths import config_file

# values a config file sets on purpose to something else than the built-in default
DELIBERATE = {
    ("drive.yaml", "servo_node", "calibration_file"): "/var/lib/deepracer/calibration.yaml",  # the car's service path
}


@pytest.mark.parametrize(("config", "node", "cls"), [("sim.yaml", "sim_node", SimNodeParams),
                                                       ("drive.yaml", "servo_node", ServoNodeParams)])
def test_config_files_name_only_real_parameters_with_the_defaults(config, node, cls):
    params = load_params_file(config_file(config))[node]
    known = defaults(cls)
    assert set(params) <= set(known), f"{config}: {node} has no parameter {set(params) - set(known)}"
    for name, value in params.items():
        expected = DELIBERATE.get((config, node, name), known[name])
        assert value == expected, f"{config}: {node}.{name} is {value!r}, the default is {known[name]!r}"


def test_the_evaluation_builds_the_simulator_sim_node_builds():
    from deepracer.analysis.evaluation import make_simulator

    direct = make_simulator(None, seed=3, penalty_s=1.5).config
    node = SimNodeParams(seed=3, off_track_penalty=1.5).sim_config()
    fields = [f.name for f in dataclasses.fields(direct) if f.name != "track"]
    assert {f: getattr(direct, f) for f in fields} == {f: getattr(node, f) for f in fields}


def test_servo_backend_defaults_are_the_backends_own():
    from deepracer.hardware.pwm import BackendOptions

    assert ServoNodeParams().backend_options() == BackendOptions()


@pytest.mark.parametrize(("change", "message"), [({"camera_hz": 0.0}, "camera_hz must be > 0"),
                                                 ({"encoding": "yuv422"}, "encoding must be one of"),
                                                 ({"off_track": "bounce"}, "off_track must be reset or end")])
def test_bad_sim_parameters_name_the_parameter(change, message):
    with pytest.raises(ConfigError, match=message):
        SimNodeParams(**change)
