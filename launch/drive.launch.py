"""The car: camera -> inference -> control -> servo.

    ros2 launch deepracer drive.launch.py [config:=FILE] [namespace:=NS] [model:=PKG]

Built from deepracer.graph.drive_graph(), the same description `deepracer drive` runs, so
both start the same nodes with the same parameters. Every node respawns after a crash.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from deepracer.graph import drive_graph, drive_overrides
from deepracer.paths import config_file
from deepracer_nodes.launch_support import launch_nodes
from launch import LaunchDescription


def _nodes(context, *args, **kwargs):
    config = LaunchConfiguration("config").perform(context)
    namespace = LaunchConfiguration("namespace").perform(context)
    model = LaunchConfiguration("model").perform(context)
    specs = drive_graph(config or None, **drive_overrides(model))
    return [Node(**kw) for kw in launch_nodes(specs, namespace)]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("config", default_value=str(config_file("drive.yaml")),
                              description="ROS 2 params file for the car's nodes"),
        DeclareLaunchArgument("namespace", default_value="", description="prefix for every node and topic"),
        DeclareLaunchArgument("model", default_value="", description="model package; empty = config/bundled"),
        OpaqueFunction(function=_nodes),
    ])
