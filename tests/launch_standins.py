"""Recording stand-ins for launch, launch_ros and ament_index_python, to load the launch files.

They check what the launch files hand to launch_ros without starting anything, and the Gazebo
backend, which needs ros_gz (not installable here). tests/test_launch_real.py runs both launch
files under the real `ros2 launch` (../shared/ros2-launch, `make setup-launch`).
The stand-ins follow the API the launch files use: LaunchDescription(list),
DeclareLaunchArgument(name, default_value=...), OpaqueFunction(function=...) called with a
context whose `launch_configurations` holds the arguments, LaunchConfiguration(name).perform(),
SetEnvironmentVariable(name, value), IncludeLaunchDescription(source, launch_arguments=items),
PythonLaunchDescriptionSource(path), launch_ros.actions.Node(**kwargs) and, when asked for,
ament_index_python.packages.get_package_share_directory(package).

Imported as `from launch_standins import ...`: pytest puts the test file's folder on sys.path.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


class Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


def load_launch_file(monkeypatch, path: Path, module_name: str, get_package_share_directory=None):
    """The launch module at `path`, loaded with the stand-ins in sys.modules (undone by monkeypatch).
    ament_index_python is stood in for only when `get_package_share_directory` is given."""
    names = ["launch", "launch.actions", "launch.substitutions", "launch.launch_description_sources",
             "launch.event_handlers", "launch.events", "launch_ros", "launch_ros.actions"]
    if get_package_share_directory is not None:
        names += ["ament_index_python", "ament_index_python.packages"]
    mods = {name: types.ModuleType(name) for name in names}
    mods["launch"].LaunchDescription = type("LaunchDescription", (Recorded,), {})
    for action in ("DeclareLaunchArgument", "OpaqueFunction", "SetEnvironmentVariable", "IncludeLaunchDescription",
                   "EmitEvent", "RegisterEventHandler"):
        setattr(mods["launch.actions"], action, type(action, (Recorded,), {}))
    mods["launch.event_handlers"].OnProcessExit = type("OnProcessExit", (Recorded,), {})
    mods["launch.events"].Shutdown = type("Shutdown", (Recorded,), {})
    mods["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    mods["launch.launch_description_sources"].PythonLaunchDescriptionSource = type("PythonLaunchDescriptionSource", (Recorded,), {})
    mods["launch_ros.actions"].Node = type("Node", (Recorded,), {})
    if get_package_share_directory is not None:
        mods["ament_index_python.packages"].get_package_share_directory = get_package_share_directory
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launch(module, **arguments) -> list:
    """The entities `ros2 launch deepracer <file> k:=v ...` would start: what its OpaqueFunctions return."""
    entities = module.generate_launch_description().args[0]
    declared = {e.args[0]: e.kwargs.get("default_value", "") for e in entities if type(e).__name__ == "DeclareLaunchArgument"}
    unknown = set(arguments) - set(declared)
    assert not unknown, f"not declared by the launch file: {unknown}"
    context = types.SimpleNamespace(launch_configurations=declared | arguments)
    out = []
    for entity in entities:
        if type(entity).__name__ == "OpaqueFunction":
            out += entity.kwargs["function"](context)
    return out
