"""The car's inference and control nodes driving a simulated car.

    ros2 launch deepracer sim.launch.py [track:=NAME|ROUTE.npy] [model:=PKG] [laps:=N]
        [backend:=builtin|gazebo] [lock_step:=true] [config:=FILE] [namespace:=NS]
        [gazebo_dir:=DIR] [gz_args:="-r"]

- laps:=N (builtin): sim_node logs the lap times after N laps, stops the car and exits, and
  the launch ends with it (exit 0). Without it the config decides (max_laps 0: drive on).

- builtin (default): sim_node + inference_node + control_node, built from
  deepracer.graph.sim_graph(), the same description `deepracer sim` runs.
- gazebo: Gazebo (Harmonic+) through ros_gz_sim with a world generated for the track
  (deepracer.sim.gazebo, written to gazebo_dir or a temporary folder), ros_gz_bridge with
  the generated bridge YAML (cmd_vel, camera/image_raw, camera/camera_info, odom, /clock),
  and the same inference_node + control_node. Not run against a live Gazebo here; see
  docs/gazebo.md.
"""

import os
import tempfile

from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from deepracer.errors import ConfigError
from deepracer.graph import parse_bool, sim_graph, sim_overrides
from deepracer.paths import config_file
from deepracer_nodes.launch_support import launch_nodes
from launch import LaunchDescription

BACKENDS = ("builtin", "gazebo")


def _laps(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"laps must be a whole number, not {text!r}") from None


def _gazebo(context, specs, namespace: str, track: str) -> list:
    """ros_gz_sim with the generated world + ros_gz_bridge + the car's inference and control."""
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import IncludeLaunchDescription, SetEnvironmentVariable
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from deepracer.sim import load_track
    from deepracer.sim.gazebo import export_gazebo

    folder = LaunchConfiguration("gazebo_dir").perform(context) or tempfile.mkdtemp(prefix="deepracer-gazebo-")
    track_obj = load_track(track or None)
    exported = export_gazebo(track_obj, folder, track_name=track_obj.name, sensors=_model_sensors(specs))
    resource_path = os.pathsep.join(p for p in (str(exported.models), os.environ.get("GZ_SIM_RESOURCE_PATH", "")) if p)
    gz_args = f"{LaunchConfiguration('gz_args').perform(context)} {exported.world}".strip()
    gz_launch = os.path.join(get_package_share_directory("ros_gz_sim"), "launch", "gz_sim.launch.py")
    car_nodes = [s for s in specs if s.name != "sim_node"]  # Gazebo replaces the built-in simulator
    return [
        SetEnvironmentVariable("GZ_SIM_RESOURCE_PATH", resource_path),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(gz_launch), launch_arguments={"gz_args": gz_args}.items()),
        Node(
            package="ros_gz_bridge",
            executable="parameter_bridge",
            name="gz_bridge",
            namespace=namespace.strip().strip("/"),
            parameters=[{"config_file": str(exported.bridge), "use_sim_time": True}],
            output="screen",
        ),
        *[Node(**kw) for kw in launch_nodes(car_nodes, namespace)],
    ]


def _model_sensors(specs) -> list[str]:
    """The sensor list of the model inference_node drives (the stereo pair / LiDAR on the Gazebo car)."""
    from deepracer.errors import DeepRacerError
    from deepracer.model.package import load_model_package

    model = next((s.parameters.get("model") for s in specs if s.name == "inference_node"), "")
    try:
        return list(load_model_package(model).metadata.sensor) if model else []
    except DeepRacerError:
        return []  # inference_node names the problem


def _nodes(context, *args, **kwargs):
    config = LaunchConfiguration("config").perform(context)
    namespace = LaunchConfiguration("namespace").perform(context)
    track = LaunchConfiguration("track").perform(context)
    model = LaunchConfiguration("model").perform(context)
    lock_step = LaunchConfiguration("lock_step").perform(context)
    laps = _laps(LaunchConfiguration("laps").perform(context))
    backend = LaunchConfiguration("backend").perform(context)
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    overrides = sim_overrides(track, model, parse_bool(lock_step) if lock_step else None,
                              laps if backend == "builtin" else None)
    specs = sim_graph(config or None, **overrides)
    if backend == "gazebo":
        return _gazebo(context, specs, namespace, track)
    nodes = [Node(**kw) for kw in launch_nodes(specs, namespace)]
    actions: list = list(nodes)
    for spec, node in zip(specs, nodes, strict=True):
        if spec.name == "sim_node" and spec.parameters.get("exit_when_finished"):
            # the race is over when sim_node exits: end the launch (the other nodes get SIGINT)
            actions.append(RegisterEventHandler(OnProcessExit(target_action=node, on_exit=[
                EmitEvent(event=Shutdown(reason="sim_node finished the race"))])))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("config", default_value=str(config_file("sim.yaml")),
                              description="ROS 2 params file for the simulator graph"),
        DeclareLaunchArgument("namespace", default_value="", description="prefix for every node and topic"),
        DeclareLaunchArgument("track", default_value="", description="built-in track name or route .npy; empty = config/default"),
        DeclareLaunchArgument("model", default_value="", description="model package; empty = config/bundled"),
        DeclareLaunchArgument("lock_step", default_value="", description="true/false; empty = config (builtin backend)"),
        DeclareLaunchArgument("laps", default_value="",
                              description="builtin: laps to drive, then sim_node exits and the launch ends; empty = config"),
        DeclareLaunchArgument("backend", default_value="builtin", description="builtin | gazebo"),
        DeclareLaunchArgument("gazebo_dir", default_value="", description="gazebo: folder for the generated world; empty = temporary"),
        DeclareLaunchArgument("gz_args", default_value="-r", description="gazebo: extra `gz sim` arguments (-r = run at start)"),
        OpaqueFunction(function=_nodes),
    ])
