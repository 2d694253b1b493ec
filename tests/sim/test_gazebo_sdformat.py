"""The Gazebo export through the real SDFormat parser (`ign sdf -k`, Debian's SDFormat 12).

`ign sdf -k` accepts an element it does not know (it copies it through), so "Valid." alone would
also pass a typo. The check is made honest by walking every element of our files against the
spec the installed parser prints (`ign sdf -d 1.9`): the only elements it may not know are
gazebo.NEWER_ELEMENTS, which the export's target (Gazebo Harmonic, sdformat 14) does know.
The world includes the models by `model://` URI, so it validates only with SDF_PATH (sdformat's
search path; Gazebo's is GZ_SIM_RESOURCE_PATH) pointing at the exported models folder, as
docs/gazebo.md tells the user.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from testenv import skip_or_fail

from deepracer.sim import gazebo, load_track

IGN = shutil.which("ign")


def _ign(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    if IGN is None:
        skip_or_fail("`ign` (Debian: ignition-tools, sdformat-sdf, libsdformat-dev) is not installed; "
                     ".ci/run installs it")
    # cwd: sdformat looks for model://NAME in the working directory first (this repository has a
    # folder named deepracer/)
    return subprocess.run([IGN, "sdf", *args], capture_output=True, text=True, timeout=60, cwd="/",
                          env=(os.environ | env) if env else None)


@functools.cache
def _spec() -> ET.Element:
    out = _ign("-d", gazebo.SDF_VERSION)
    assert out.returncode == 0, out.stderr
    return ET.fromstring(out.stdout)


def _unknown_elements(sdf: Path) -> set[str]:
    """Paths of the elements in `sdf` the installed parser's spec does not have."""
    unknown: set[str] = set()

    def walk(node: ET.Element, spec: ET.Element, path: str) -> None:
        children = {e.get("name"): e for e in spec.findall("element")}
        if "plugin" == node.tag or spec.find("element[@name='*']") is not None or spec.get("copy_data"):
            return  # free-form content (a plugin's own configuration)
        for child in node:
            child_spec = children.get(child.tag)
            if child_spec is None:
                unknown.add(f"{path}/{child.tag}")
                continue
            walk(child, child_spec, f"{path}/{child.tag}")

    walk(ET.parse(sdf).getroot(), _spec(), "sdf")
    return unknown


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    track = load_track(None)
    return gazebo.export_gazebo(track, tmp_path_factory.mktemp("gz"), track_name=track.name)


def _files(exp: gazebo.GazeboExport) -> dict[str, Path]:
    return {"car": exp.models / gazebo.MODEL_NAME / "model.sdf",
            "track": exp.models / gazebo.TRACK_MODEL_NAME / "model.sdf", "world": exp.world}


@pytest.mark.parametrize("part", ["car", "track"])
def test_models_are_valid_for_the_real_parser(exported, part):
    out = _ign("-k", str(_files(exported)[part]))
    assert out.returncode == 0 and "Valid." in out.stdout, out.stdout + out.stderr


def test_the_world_is_valid_once_the_models_folder_is_on_the_path(exported):
    world = str(exported.world)
    alone = _ign("-k", world, env={"SDF_PATH": "", "GZ_SIM_RESOURCE_PATH": ""})
    assert alone.returncode != 0 and "Unable to find uri[model://deepracer" in alone.stdout + alone.stderr
    # sdformat's own search path (Gazebo itself reads GZ_SIM_RESOURCE_PATH, which sim.launch.py sets)
    out = _ign("-k", world, env={"SDF_PATH": str(exported.models)})
    assert out.returncode == 0 and "Valid." in out.stdout, out.stdout + out.stderr


def test_only_the_documented_newer_elements_are_unknown_to_sdformat_12(exported):
    found = {part: _unknown_elements(path) for part, path in _files(exported).items()}
    assert found["car"] == {"sdf/model/link/sensor/camera/camera_info_topic"}
    assert {p.rsplit("/", 1)[1] for p in found["car"]} <= set(gazebo.NEWER_ELEMENTS)
    assert found["track"] == set() and found["world"] == set()


def test_a_misspelt_element_is_caught_although_ign_calls_it_valid(exported, tmp_path):
    broken = tmp_path / "model.sdf"
    text = _files(exported)["car"].read_text().replace("<update_rate>", "<update_rat>").replace("</update_rate>", "</update_rat>")
    broken.write_text(text)
    assert _ign("-k", str(broken)).returncode == 0  # the parser lets it through...
    assert "sdf/model/link/sensor/update_rat" in _unknown_elements(broken)  # ...the spec walk does not


@pytest.fixture(scope="module")
def head_to_bot(tmp_path_factory):
    from deepracer.sim import SimConfig, Simulator
    from deepracer.sim.objects import BotConfig, RaceType

    track = load_track(None)
    sim = Simulator(SimConfig(track=track, race_type=RaceType.HEAD_TO_BOT,
                              bots=BotConfig(count=3, speed_mps=0.6, lane_change=True)))
    return gazebo.export_gazebo(track, tmp_path_factory.mktemp("gz-h2b"), track_name=track.name,
                                objects=sim.object_list, race_objects=sim.objects)


def test_bot_cars_are_actors_the_real_parser_accepts(head_to_bot):
    out = _ign("-k", str(head_to_bot.world), env={"SDF_PATH": str(head_to_bot.models)})
    assert out.returncode == 0 and "Valid." in out.stdout, out.stdout + out.stderr
    assert _unknown_elements(head_to_bot.world) == set()  # actor/script/trajectory/waypoint all in spec 1.9
    world = ET.parse(head_to_bot.world).getroot().find("world")
    actors = world.findall("actor")
    assert [a.get("name") for a in actors] == ["bot_car_0", "bot_car_1", "bot_car_2"]
    assert not [m for m in world.findall("model") if m.get("name", "").startswith("bot_car_")]
    for a in actors:
        assert a.find("script/loop").text == "true" and a.find("link/visual/geometry/box") is not None
        points = a.findall("script/trajectory/waypoint")
        times = [float(w.find("time").text) for w in points]
        assert len(points) > 100 and all(t1 > t0 for t0, t1 in zip(times, times[1:], strict=False))
        first, last = (points[i].find("pose").text.split() for i in (0, -1))
        assert first[:2] == last[:2]  # the loop closes where it began


def test_a_stereo_and_lidar_car_is_valid_for_the_real_parser(tmp_path):
    track = load_track("oval")
    exp = gazebo.export_gazebo(track, tmp_path / "gz", track_name="oval", sensors=["STEREO_CAMERAS", "SECTOR_LIDAR"])
    car = exp.models / gazebo.MODEL_NAME / "model.sdf"
    out = _ign("-k", str(car))
    assert out.returncode == 0 and "Valid." in out.stdout, out.stdout + out.stderr
    assert _unknown_elements(car) == {"sdf/model/link/sensor/camera/camera_info_topic"}
    sensors = {s.get("name"): s for s in ET.parse(car).getroot().iter("sensor")}
    assert set(sensors) == {"camera", "camera_left", "camera_right", "laser"}
    ys = [float(sensors[f"camera_{side}"].find("pose").text.split()[1]) for side in ("left", "right")]
    assert ys == pytest.approx([0.03, -0.03])  # DeepRacer's 0.06 m baseline
    laser = sensors["laser"]
    assert laser.get("type") == "gpu_lidar" and laser.find("lidar/scan/horizontal/samples").text == "64"
    assert float(laser.find("lidar/scan/horizontal/max_angle").text) == pytest.approx(2.61799)
    assert float(laser.find("pose").text.split()[5]) == pytest.approx(3.141593)  # facing backwards
    bridge = exp.bridge.read_text()
    for topic in ("camera/left/image_raw", "camera/right/image_raw", "scan"):
        assert f'ros_topic_name: "{topic}"' in bridge
    plain = gazebo.export_gazebo(track, tmp_path / "plain", track_name="oval")
    assert "gpu_lidar" not in (plain.models / gazebo.MODEL_NAME / "model.sdf").read_text()
    assert "scan" not in plain.bridge.read_text()
