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
