"""Gazebo (Harmonic+) files for any track: a world, the car and a ros_gz_bridge config.

For users who have Gazebo and ros_gz: `deepracer sim --export-gazebo DIR` writes

    DIR/world.sdf                          sun, ground, the track, the car at the start line, the
                                           obstacles (static) and bot cars (actors driving their lanes)
    DIR/bridge.yaml                        ros_gz_bridge: cmd_vel, camera, odom, clock
    DIR/models/deepracer_track/            road mesh (OBJ, from the route's inner/outer borders)
    DIR/models/deepracer/                  AckermannSteering car with a 160x120 camera

and `ros2 launch deepracer sim.launch.py backend:=gazebo` starts Gazebo with them
(GZ_SIM_RESOURCE_PATH=DIR/models). The ROS topics are the car's, so inference_node and
control_node drive the Gazebo car unchanged. Not run against a live Gazebo here (see
docs/gazebo.md): the files are checked structurally by tests/sim/test_gazebo.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from deepracer.control.kinematics import MAX_STEERING_DEG, TRACK_WIDTH_M, WHEELBASE_M
from deepracer.errors import TrackError
from deepracer.sim.camera import CameraPose

MODEL_NAME = "deepracer"
TRACK_MODEL_NAME = "deepracer_track"
WORLD_NAME = "deepracer"
ROAD_Z = 0.002  # the road sits just above the ground plane (no z-fighting)
LINE_Z = 0.004
LINE_WIDTH_M = 0.05  # DeepRacer's white border lines are about 5 cm wide
WHEEL_RADIUS_M = 0.033
WHEEL_WIDTH_M = 0.025


# The files declare SDF spec 1.9 and are written for Gazebo Harmonic (gz-sim 8, sdformat 14).
# One element in them is newer than spec 1.9 as SDFormat 12.3 (Debian bookworm, `ign sdf -k`)
# knows it; older readers copy it through without checking it (docs/gazebo.md).
SDF_VERSION = "1.9"
TARGET = "Gazebo Harmonic (gz-sim 8, sdformat 14)"
NEWER_ELEMENTS: dict[str, str] = {
    # sensor/camera/camera_info_topic: where the camera publishes its CameraInfo (the bridge maps it)
    "camera_info_topic": "sdformat 12.7 (Gazebo Harmonic's sdformat 14 has it)",
}

_POSE = CameraPose()  # the built-in renderer's camera mounting


@dataclass(frozen=True)
class CameraSpec:
    """The camera as the built-in renderer sees it, so a policy sees the same picture."""

    width: int = 160
    height: int = 120
    horizontal_fov_rad: float = math.radians(_POSE.hfov_deg)  # DeepRacer's wide-angle lens
    x_m: float = _POSE.forward_m  # forward of the rear axle (base_link)
    z_m: float = _POSE.height_m  # above the ground
    pitch_rad: float = math.radians(_POSE.pitch_deg)  # looking down (SDF: positive pitch = nose down)
    hz: float = 15.0
    grayscale: bool = True


@dataclass(frozen=True)
class GazeboExport:
    world: Path
    bridge: Path
    models: Path  # put this on GZ_SIM_RESOURCE_PATH
    road_mesh: Path
    lines_mesh: Path
    start_pose: tuple[float, float, float]  # x, y, yaw


def route_borders(track: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(center, inner, outer) as (N, 2) arrays, open (no repeated last point).

    `track` is a deepracer.sim Track (center/inner/outer attributes) or a DeepRacer route:
    an (N, 6) array or the path of a .npy file holding one.
    """
    if hasattr(track, "center") and hasattr(track, "inner") and hasattr(track, "outer"):
        center, inner, outer = (np.asarray(getattr(track, k), dtype=float) for k in ("center", "inner", "outer"))
    else:
        route = track
        if isinstance(track, (str, Path)):
            try:
                route = np.load(track)
            except (OSError, ValueError) as err:
                raise TrackError(f"cannot read the route: {err}", track) from err
        route = np.asarray(route, dtype=float)
        if route.ndim != 2 or route.shape[1] != 6 or len(route) < 3:
            raise TrackError(f"a route is an (N, 6) array [cx, cy, ix, iy, ox, oy], not shape {route.shape}")
        center, inner, outer = route[:, 0:2], route[:, 2:4], route[:, 4:6]
    if len(center) > 1 and np.allclose(center[0], center[-1]):
        center, inner, outer = center[:-1], inner[:-1], outer[:-1]
    return center, inner, outer


def _strip_obj(left: np.ndarray, right: np.ndarray, z: float, name: str) -> str:
    """A closed ribbon between two polylines as a Wavefront OBJ: vertex 2i = left[i], 2i+1 = right[i]."""
    n = len(left)
    lines = [f"# {name}: {n} cross-sections, closed loop", f"o {name}"]
    for a, b in zip(left, right, strict=True):
        lines.append(f"v {a[0]:.6f} {a[1]:.6f} {z:.4f}")
        lines.append(f"v {b[0]:.6f} {b[1]:.6f} {z:.4f}")
    lines.append("vn 0 0 1")
    for i in range(n):
        j = (i + 1) % n
        a, b, c, d = 2 * i + 1, 2 * i + 2, 2 * j + 1, 2 * j + 2  # OBJ indices start at 1
        # both windings point up (+z) whichever side `left` is on: emit the pair ordered by orientation
        if _ccw(left[i], right[i], left[j]):
            lines += [f"f {a}//1 {b}//1 {c}//1", f"f {b}//1 {d}//1 {c}//1"]
        else:
            lines += [f"f {a}//1 {c}//1 {b}//1", f"f {b}//1 {c}//1 {d}//1"]
    return "\n".join(lines) + "\n"


def _ccw(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> bool:
    return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])) > 0


def road_obj(track: Any) -> str:
    """The road surface: triangles between the inner and outer borders."""
    _, inner, outer = route_borders(track)
    return _strip_obj(inner, outer, ROAD_Z, "road")


def border_lines_obj(track: Any, width_m: float = LINE_WIDTH_M) -> str:
    """Two white lines, each `width_m` wide, on the road just inside the inner and outer borders."""
    _, inner, outer = route_borders(track)
    across = outer - inner
    unit = across / np.maximum(np.linalg.norm(across, axis=1, keepdims=True), 1e-9)
    inner_line = _strip_obj(inner, inner + unit * width_m, LINE_Z, "inner_line")
    outer_line = _strip_obj(outer - unit * width_m, outer, LINE_Z, "outer_line")
    # one OBJ, two objects: the second object's face indices continue after the first's vertices
    n = 2 * len(inner)
    shifted = []
    for line in outer_line.splitlines():
        if line.startswith("f "):
            parts = [p.split("//") for p in line[2:].split()]
            line = "f " + " ".join(f"{int(v) + n}//{nrm}" for v, nrm in parts)
        elif line.startswith("vn"):
            continue  # reuse the first object's normal (index 1)
        shifted.append(line)
    return inner_line + "\n".join(shifted) + "\n"


def start_pose(track: Any, start_waypoint: int = 0) -> tuple[float, float, float]:
    """(x, y, yaw) on the centre line at `start_waypoint`, facing the next waypoint."""
    center, _, _ = route_borders(track)
    i = start_waypoint % len(center)
    p, q = center[i], center[(i + 1) % len(center)]
    return float(p[0]), float(p[1]), math.atan2(float(q[1] - p[1]), float(q[0] - p[0]))


def _inertia_box(mass: float, x: float, y: float, z: float) -> str:
    ixx, iyy, izz = (mass / 12.0 * (b * b + c * c) for b, c in ((y, z), (x, z), (x, y)))
    return (f"<inertial><mass>{mass}</mass><inertia><ixx>{ixx:.6g}</ixx><iyy>{iyy:.6g}</iyy><izz>{izz:.6g}</izz>"
            "<ixy>0</ixy><ixz>0</ixz><iyz>0</iyz></inertia></inertial>")


def _wheel_link(name: str, x: float, y: float) -> str:
    r, w = WHEEL_RADIUS_M, WHEEL_WIDTH_M
    geometry = f"<cylinder><radius>{r}</radius><length>{w}</length></cylinder>"
    return f"""
    <link name="{name}">
      <pose>{x:.4f} {y:.4f} {r:.4f} -1.5708 0 0</pose>
      {_inertia_box(0.05, 2 * r, 2 * r, w)}
      <collision name="collision"><geometry>{geometry}</geometry>
        <surface><friction><ode><mu>1.0</mu><mu2>1.0</mu2></ode></friction></surface></collision>
      <visual name="visual"><geometry>{geometry}</geometry>
        <material><ambient>0.05 0.05 0.05 1</ambient><diffuse>0.1 0.1 0.1 1</diffuse></material></visual>
    </link>"""


def _steering_link(name: str, x: float, y: float) -> str:
    return f"""
    <link name="{name}">
      <pose>{x:.4f} {y:.4f} {WHEEL_RADIUS_M:.4f} 0 0 0</pose>
      {_inertia_box(0.01, 0.01, 0.01, 0.01)}
    </link>"""


def _sensor_extras_sdf(cam: CameraSpec, sensors: tuple[str, ...]) -> str:
    """The stereo pair (STEREO_CAMERAS: grey, 0.06 m apart) and DeepRacer's LiDAR (gpu_lidar: 64 beams
    over ±150°, 0.15-12 m, σ 0.01 m, 10 Hz, facing backwards) a model's sensor list asks for."""
    from deepracer.sim.sensors import (
        LIDAR_BEAMS,
        LIDAR_HALF_ANGLE_RAD,
        LIDAR_HZ,
        LIDAR_MAX_M,
        LIDAR_MIN_M,
        LIDAR_MOUNT_X_M,
        LIDAR_NOISE_M,
        LIDARS,
        STEREO_BASELINE_M,
    )

    out = []
    if "STEREO_CAMERAS" in sensors:
        for side, y in (("left", STEREO_BASELINE_M / 2), ("right", -STEREO_BASELINE_M / 2)):
            out.append(f"""
      <sensor name="camera_{side}" type="camera">
        <pose relative_to="__model__">{cam.x_m:.4f} {y:.4f} {cam.z_m:.4f} 0 {cam.pitch_rad:.4f} 0</pose>
        <camera>
          <horizontal_fov>{cam.horizontal_fov_rad:.6f}</horizontal_fov>
          <image><width>{cam.width}</width><height>{cam.height}</height><format>L8</format></image>
          <clip><near>0.02</near><far>30</far></clip>
        </camera>
        <always_on>1</always_on>
        <update_rate>{cam.hz}</update_rate>
        <topic>/model/{MODEL_NAME}/camera_{side}</topic>
      </sensor>""")
    if any(s in {x.value for x in LIDARS} for s in sensors):
        out.append(f"""
      <sensor name="laser" type="gpu_lidar">
        <pose relative_to="__model__">{LIDAR_MOUNT_X_M:.4f} 0 {LIDAR_Z_M:.4f} 0 0 {math.pi:.6f}</pose>
        <lidar>
          <scan><horizontal><samples>{LIDAR_BEAMS}</samples><resolution>1</resolution>
            <min_angle>{-LIDAR_HALF_ANGLE_RAD:.5f}</min_angle><max_angle>{LIDAR_HALF_ANGLE_RAD:.5f}</max_angle>
          </horizontal></scan>
          <range><min>{LIDAR_MIN_M}</min><max>{LIDAR_MAX_M}</max><resolution>0.01</resolution></range>
          <noise><type>gaussian</type><mean>0</mean><stddev>{LIDAR_NOISE_M}</stddev></noise>
        </lidar>
        <always_on>1</always_on>
        <update_rate>{LIDAR_HZ:g}</update_rate>
        <topic>/model/{MODEL_NAME}/scan</topic>
      </sensor>""")
    return "".join(out)


LIDAR_Z_M = 0.185  # DeepRacer's `laser` link above base_link (facts §2)


def car_model_sdf(camera: CameraSpec | None = None, wheelbase_m: float = WHEELBASE_M,
                  sensors: tuple[str, ...] = ()) -> str:
    """The car: chassis, four wheels, Ackermann front steering, the camera (and, for `sensors` with
    STEREO_CAMERAS or a LiDAR, the stereo pair and the LiDAR). base_link = rear axle centre."""
    cam = camera or CameraSpec()
    half = TRACK_WIDTH_M / 2.0
    limit = math.radians(MAX_STEERING_DEG)
    image_format = "L8" if cam.grayscale else "R8G8B8"
    chassis = "<box><size>0.30 0.15 0.06</size></box>"
    steer_joint = """
    <joint name="{side}_steering_joint" type="revolute">
      <parent>chassis</parent><child>{side}_steering_link</child>
      <axis><xyz>0 0 1</xyz><limit><lower>-{limit:.4f}</lower><upper>{limit:.4f}</upper></limit></axis>
    </joint>"""
    wheel_joint = """
    <joint name="{name}_joint" type="revolute">
      <parent>{parent}</parent><child>{name}</child>
      <axis><xyz expressed_in="__model__">0 1 0</xyz>
        <limit><lower>-1e16</lower><upper>1e16</upper></limit></axis>
    </joint>"""
    joints = "".join(
        [steer_joint.format(side=s, limit=limit) for s in ("front_left", "front_right")]
        + [wheel_joint.format(name=f"{s}_wheel", parent=f"{s}_steering_link") for s in ("front_left", "front_right")]
        + [wheel_joint.format(name=f"{s}_wheel", parent="chassis") for s in ("rear_left", "rear_right")]
    )
    return f"""<?xml version="1.0"?>
<sdf version="{SDF_VERSION}">
  <model name="{MODEL_NAME}">
    <link name="chassis">
      <pose>{wheelbase_m / 2:.4f} 0 0.06 0 0 0</pose>
      {_inertia_box(1.2, 0.30, 0.15, 0.06)}
      <collision name="collision"><geometry>{chassis}</geometry></collision>
      <visual name="visual"><geometry>{chassis}</geometry>
        <material><ambient>0.1 0.1 0.1 1</ambient><diffuse>0.15 0.15 0.2 1</diffuse></material></visual>
      <sensor name="camera" type="camera">
        <pose relative_to="__model__">{cam.x_m:.4f} 0 {cam.z_m:.4f} 0 {cam.pitch_rad:.4f} 0</pose>
        <camera>
          <horizontal_fov>{cam.horizontal_fov_rad:.6f}</horizontal_fov>
          <image><width>{cam.width}</width><height>{cam.height}</height><format>{image_format}</format></image>
          <clip><near>0.02</near><far>30</far></clip>
          <camera_info_topic>/model/{MODEL_NAME}/camera_info</camera_info_topic>
        </camera>
        <always_on>1</always_on>
        <update_rate>{cam.hz}</update_rate>
        <topic>/model/{MODEL_NAME}/camera</topic>
      </sensor>{_sensor_extras_sdf(cam, tuple(sensors))}
    </link>
    {_steering_link("front_left_steering_link", wheelbase_m, half)}
    {_steering_link("front_right_steering_link", wheelbase_m, -half)}
    {_wheel_link("front_left_wheel", wheelbase_m, half)}
    {_wheel_link("front_right_wheel", wheelbase_m, -half)}
    {_wheel_link("rear_left_wheel", 0.0, half)}
    {_wheel_link("rear_right_wheel", 0.0, -half)}
    {joints}
    <plugin filename="gz-sim-ackermann-steering-system" name="gz::sim::systems::AckermannSteering">
      <left_joint>rear_left_wheel_joint</left_joint>
      <right_joint>rear_right_wheel_joint</right_joint>
      <left_steering_joint>front_left_steering_joint</left_steering_joint>
      <right_steering_joint>front_right_steering_joint</right_steering_joint>
      <kingpin_width>{TRACK_WIDTH_M}</kingpin_width>
      <steering_limit>{limit:.4f}</steering_limit>
      <wheel_base>{wheelbase_m}</wheel_base>
      <wheel_separation>{TRACK_WIDTH_M}</wheel_separation>
      <wheel_radius>{WHEEL_RADIUS_M}</wheel_radius>
      <min_velocity>-4</min_velocity>
      <max_velocity>4</max_velocity>
      <min_acceleration>-6</min_acceleration>
      <max_acceleration>6</max_acceleration>
      <topic>/model/{MODEL_NAME}/cmd_vel</topic>
      <odom_topic>/model/{MODEL_NAME}/odometry</odom_topic>
      <frame_id>odom</frame_id>
      <child_frame_id>base_link</child_frame_id>
      <odom_publish_frequency>30</odom_publish_frequency>
    </plugin>
    <plugin filename="gz-sim-joint-state-publisher-system" name="gz::sim::systems::JointStatePublisher"/>
  </model>
</sdf>
"""


def track_model_sdf(track_name: str) -> str:
    def mesh_visual(name: str, mesh: str, rgb: str) -> str:
        return f"""
      <visual name="{name}">
        <geometry><mesh><uri>model://{TRACK_MODEL_NAME}/meshes/{mesh}</uri></mesh></geometry>
        <material><ambient>{rgb} 1</ambient><diffuse>{rgb} 1</diffuse><specular>0.05 0.05 0.05 1</specular></material>
      </visual>"""

    return f"""<?xml version="1.0"?>
<sdf version="{SDF_VERSION}">
  <model name="{TRACK_MODEL_NAME}">
    <static>true</static>
    <!-- {escape(track_name)}: road between the route's inner and outer borders, white border lines -->
    <link name="road">
      <collision name="collision">
        <geometry><mesh><uri>model://{TRACK_MODEL_NAME}/meshes/road.obj</uri></mesh></geometry>
      </collision>{mesh_visual("road", "road.obj", "0.25 0.25 0.25")}{mesh_visual("lines", "lines.obj", "1 1 1")}
    </link>
  </model>
</sdf>
"""


Waypoint = tuple[float, float, float, float]  # (time s, x, y, yaw rad)
TRAJECTORY_STEP_S = 0.25  # an actor's waypoints along its lane (Gazebo interpolates between them)


def bot_trajectories(race: Any, step_s: float = TRAJECTORY_STEP_S) -> list[list[Waypoint]]:
    """Each moving bot car's path over one lap at its speed, as the built-in simulator drives it
    (deepracer.sim.objects.RaceObjects: its lane, its lane changes at random intervals, drawn from a
    copy of the simulator's random state), for a looping Gazebo actor trajectory.

    The last waypoint is the first pose again (a lap later), so the loop closes; with lane changes
    a bot may end its lap in the other lane and then changes back over the last waypoint. Yaw is
    unwrapped (no spin where it crosses ±pi)."""
    import copy

    if race is None or not race.bots or not race.items:
        return []
    r = copy.deepcopy(race)
    speed = min(o.speed for o in r.items)
    period = r.track.length_m / speed
    n = max(8, int(math.ceil(period / step_s)))
    dt = period / n
    t0 = r._t
    paths: list[list[Waypoint]] = [[(0.0, o.x, o.y, o.yaw)] for o in r.items]
    for k in range(1, n):
        r.update(t0 + k * dt)
        for path, o in zip(paths, r.items, strict=True):
            path.append((k * dt, o.x, o.y, o.yaw))
    out = []
    for path in paths:
        path.append((period, path[0][1], path[0][2], path[0][3]))
        yaw = np.unwrap([w[3] for w in path])
        out.append([(t, x, y, float(a)) for (t, x, y, _), a in zip(path, yaw, strict=True)])
    return out


def _actor_sdf(name: str, geom: str, rgb: str, z: float, path: list[Waypoint]) -> str:
    """A bot car as a Gazebo actor: its link carried along the trajectory, in a loop (actors are
    kinematic: no physics acts on them, and the car's contact with them is not a collision there)."""
    waypoints = "".join(f"""
          <waypoint><time>{t:.3f}</time><pose>{x:.4f} {y:.4f} {z:.4f} 0 0 {yaw:.4f}</pose></waypoint>"""
                        for t, x, y, yaw in path)
    return f"""    <actor name="{name}">
      <link name="link">
        <visual name="visual">{geom}
          <material><ambient>{rgb} 1</ambient><diffuse>{rgb} 1</diffuse></material></visual>
      </link>
      <script>
        <loop>true</loop>
        <delay_start>0</delay_start>
        <auto_start>true</auto_start>
        <trajectory id="0" type="{name}">{waypoints}
        </trajectory>
      </script>
    </actor>
"""


def objects_sdf(objects: list[Any], trajectories: list[list[Waypoint]] | None = None) -> str:
    """DeepRacer's obstacles (`obstacle_<i>`, box 0.40 x 0.30 x 0.25 m) and bot cars (`bot_car_<i>`,
    their footprint), static at their episode-start poses, yaw along the lane; with `trajectories`
    (bot_trajectories: one per moving bot, in order) the bot cars are actors driving their lanes."""
    from deepracer.sim.objects import BOX_SIZE_M, CAR_FOOTPRINT_M, CAR_HEIGHT_M

    out = []
    n_box = n_bot = 0
    paths = list(trajectories or [])
    for o in objects:
        if str(o.kind) == "box":
            name, (lx, ly, lz), rgb = f"obstacle_{n_box}", BOX_SIZE_M, "0.75 0.53 0.27"
            n_box += 1
        else:
            name, (lx, ly), lz, rgb = f"bot_car_{n_bot}", CAR_FOOTPRINT_M, CAR_HEIGHT_M, "0.16 0.43 0.75"
            n_bot += 1
        geom = f"<geometry><box><size>{lx:.4f} {ly:.4f} {lz:.4f}</size></box></geometry>"
        if str(o.kind) != "box" and o.speed > 0 and paths:
            out.append(_actor_sdf(name, geom, rgb, lz / 2, paths.pop(0)))
            continue
        out.append(f"""    <model name="{name}">
      <static>true</static>
      <pose>{o.x:.4f} {o.y:.4f} {lz / 2:.4f} 0 0 {o.yaw:.4f}</pose>
      <link name="link">
        <collision name="collision">{geom}</collision>
        <visual name="visual">{geom}
          <material><ambient>{rgb} 1</ambient><diffuse>{rgb} 1</diffuse></material></visual>
      </link>
    </model>
""")
    return "".join(out)


def world_sdf(pose: tuple[float, float, float], physics_hz: float = 500.0, objects: list[Any] | None = None,
              trajectories: list[list[Waypoint]] | None = None) -> str:
    x, y, yaw = pose
    return f"""<?xml version="1.0"?>
<sdf version="{SDF_VERSION}">
  <world name="{WORLD_NAME}">
    <physics name="default" type="ignored">
      <max_step_size>{1.0 / physics_hz:.6f}</max_step_size>
      <real_time_factor>1.0</real_time_factor>
    </physics>
    <plugin filename="gz-sim-physics-system" name="gz::sim::systems::Physics"/>
    <plugin filename="gz-sim-user-commands-system" name="gz::sim::systems::UserCommands"/>
    <plugin filename="gz-sim-scene-broadcaster-system" name="gz::sim::systems::SceneBroadcaster"/>
    <plugin filename="gz-sim-sensors-system" name="gz::sim::systems::Sensors">
      <render_engine>ogre2</render_engine>
    </plugin>
    <scene><ambient>0.6 0.6 0.6 1</ambient><background>0.7 0.8 0.9 1</background><shadows>false</shadows></scene>
    <light type="directional" name="sun">
      <cast_shadows>false</cast_shadows>
      <pose>0 0 10 0 0 0</pose>
      <diffuse>0.9 0.9 0.9 1</diffuse><specular>0.2 0.2 0.2 1</specular>
      <direction>-0.3 0.2 -0.9</direction>
    </light>
    <model name="ground">
      <static>true</static>
      <link name="ground">
        <collision name="collision"><geometry><plane><normal>0 0 1</normal><size>200 200</size></plane></geometry></collision>
        <visual name="visual"><geometry><plane><normal>0 0 1</normal><size>200 200</size></plane></geometry>
          <material><ambient>0.2 0.45 0.2 1</ambient><diffuse>0.2 0.45 0.2 1</diffuse></material></visual>
      </link>
    </model>
    <include>
      <uri>model://{TRACK_MODEL_NAME}</uri>
    </include>
    <include>
      <uri>model://{MODEL_NAME}</uri>
      <name>{MODEL_NAME}</name>
      <pose>{x:.4f} {y:.4f} 0.01 0 0 {yaw:.4f}</pose>
    </include>
{objects_sdf(objects or [], trajectories)}  </world>
</sdf>
"""


# ROS topic (relative, the car's) <-> Gazebo topic, ROS type, Gazebo type, direction
BRIDGE_TOPICS: list[tuple[str, str, str, str, str]] = [
    ("cmd_vel", f"/model/{MODEL_NAME}/cmd_vel", "geometry_msgs/msg/Twist", "gz.msgs.Twist", "ROS_TO_GZ"),
    ("camera/image_raw", f"/model/{MODEL_NAME}/camera", "sensor_msgs/msg/Image", "gz.msgs.Image", "GZ_TO_ROS"),
    ("camera/camera_info", f"/model/{MODEL_NAME}/camera_info", "sensor_msgs/msg/CameraInfo", "gz.msgs.CameraInfo", "GZ_TO_ROS"),
    ("odom", f"/model/{MODEL_NAME}/odometry", "nav_msgs/msg/Odometry", "gz.msgs.Odometry", "GZ_TO_ROS"),
    ("/clock", "/clock", "rosgraph_msgs/msg/Clock", "gz.msgs.Clock", "GZ_TO_ROS"),
]


def sensor_bridge_topics(sensors: tuple[str, ...] = ()) -> list[tuple[str, str, str, str, str]]:
    """The bridge's mappings for the stereo pair and the LiDAR (the topics inference_node reads)."""
    from deepracer.sim.sensors import LIDARS

    out = []
    if "STEREO_CAMERAS" in sensors:
        out += [(f"camera/{side}/image_raw", f"/model/{MODEL_NAME}/camera_{side}", "sensor_msgs/msg/Image",
                 "gz.msgs.Image", "GZ_TO_ROS") for side in ("left", "right")]
    if any(s in {x.value for x in LIDARS} for s in sensors):
        out.append(("scan", f"/model/{MODEL_NAME}/scan", "sensor_msgs/msg/LaserScan", "gz.msgs.LaserScan",
                    "GZ_TO_ROS"))
    return out


def bridge_yaml(sensors: tuple[str, ...] = ()) -> str:
    """ros_gz_bridge's `config_file` format: a YAML list of topic mappings."""
    out = ["# ros_gz_bridge parameter_bridge config (generated by deepracer.sim.gazebo)"]
    for ros, gz, ros_type, gz_type, direction in BRIDGE_TOPICS + sensor_bridge_topics(sensors):
        out += [
            f'- ros_topic_name: "{ros}"',
            f'  gz_topic_name: "{gz}"',
            f'  ros_type_name: "{ros_type}"',
            f'  gz_type_name: "{gz_type}"',
            f"  direction: {direction}",
        ]
    return "\n".join(out) + "\n"


def _model_config(name: str, description: str) -> str:
    return f"""<?xml version="1.0"?>
<model>
  <name>{name}</name>
  <version>1.0</version>
  <sdf version="{SDF_VERSION}">model.sdf</sdf>
  <description>{escape(description)}</description>
</model>
"""


def export_gazebo(
    track: Any,
    out_dir: str | Path,
    *,
    track_name: str = "track",
    camera: CameraSpec | None = None,
    start_waypoint: int = 0,
    objects: list[Any] | None = None,
    race_objects: Any = None,
    sensors: list[str] | tuple[str, ...] = (),
) -> GazeboExport:
    """Write the world, models and bridge config for `track` into `out_dir`; `objects` (a
    simulator's `object_list`) adds the obstacles and bot cars at their start poses, and
    `race_objects` (its `objects`, a head-to-bot RaceObjects) makes the bot cars actors that drive
    their lanes (bot_trajectories); `sensors` (a model's sensor list) adds the stereo pair and the
    LiDAR to the car and the bridge."""
    out = Path(out_dir)
    models = out / "models"
    track_dir = models / TRACK_MODEL_NAME
    car_dir = models / MODEL_NAME
    (track_dir / "meshes").mkdir(parents=True, exist_ok=True)
    car_dir.mkdir(parents=True, exist_ok=True)

    road_mesh = track_dir / "meshes" / "road.obj"
    lines_mesh = track_dir / "meshes" / "lines.obj"
    road_mesh.write_text(road_obj(track), encoding="utf-8")
    lines_mesh.write_text(border_lines_obj(track), encoding="utf-8")
    (track_dir / "model.sdf").write_text(track_model_sdf(track_name), encoding="utf-8")
    (track_dir / "model.config").write_text(_model_config(TRACK_MODEL_NAME, f"DeepRacer track {track_name}"), encoding="utf-8")
    (car_dir / "model.sdf").write_text(car_model_sdf(camera, sensors=tuple(sensors)), encoding="utf-8")
    (car_dir / "model.config").write_text(_model_config(MODEL_NAME, "DeepRacer-sized Ackermann car with a camera"), encoding="utf-8")

    pose = start_pose(track, start_waypoint)
    world = out / "world.sdf"
    world.write_text(world_sdf(pose, objects=objects, trajectories=bot_trajectories(race_objects)),
                     encoding="utf-8")
    bridge = out / "bridge.yaml"
    bridge.write_text(bridge_yaml(tuple(sensors)), encoding="utf-8")
    return GazeboExport(world, bridge, models, road_mesh, lines_mesh, pose)
