"""The Gazebo export: well-formed SDF, the systems and topics ros_gz needs, a road on the route."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml

from deepracer.errors import TrackError
from deepracer.sim import gazebo


def _oval(n: int = 60, a: float = 4.0, b: float = 2.5, half_width: float = 0.4) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n)
    center = np.c_[a * np.cos(t), b * np.sin(t)]
    normal = np.c_[b * np.cos(t), a * np.sin(t)]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    route = np.c_[center, center - half_width * normal, center + half_width * normal]
    route[-1] = route[0]
    return route


@pytest.fixture
def exported(tmp_path):
    route = _oval()
    return route, gazebo.export_gazebo(route, tmp_path / "gz", track_name="oval")


def _obj_vertices(path) -> np.ndarray:
    return np.array([[float(v) for v in line.split()[1:4]] for line in path.read_text().splitlines() if line.startswith("v ")])


def _obj_faces(path) -> list[list[int]]:
    return [[int(p.split("//")[0]) for p in line.split()[1:]] for line in path.read_text().splitlines() if line.startswith("f ")]


def test_every_file_is_well_formed_xml(exported):
    _, out = exported
    for sdf in [out.world, *out.models.rglob("*.sdf"), *out.models.rglob("model.config")]:
        ET.parse(sdf)  # raises on malformed XML


def test_world_has_the_systems_a_camera_and_a_driven_car_need(exported):
    _, out = exported
    world = ET.parse(out.world).getroot().find("world")
    plugins = {p.get("name") for p in world.findall("plugin")}
    assert {"gz::sim::systems::Physics", "gz::sim::systems::Sensors", "gz::sim::systems::SceneBroadcaster"} <= plugins
    includes = {inc.findtext("uri") for inc in world.findall("include")}
    assert includes == {"model://deepracer_track", "model://deepracer"}
    for inc in world.findall("include"):  # every included model exists in the exported model path
        name = inc.findtext("uri").removeprefix("model://")
        assert (out.models / name / "model.sdf").is_file()
        assert (out.models / name / "model.config").is_file()


def test_car_starts_on_the_centre_line_facing_along_the_track(exported):
    route, out = exported
    world = ET.parse(out.world).getroot().find("world")
    car = next(inc for inc in world.findall("include") if inc.findtext("uri") == "model://deepracer")
    x, y, z, roll, pitch, yaw = (float(v) for v in car.findtext("pose").split())
    assert (x, y) == pytest.approx(tuple(route[0, :2]), abs=1e-3)
    heading = route[1, :2] - route[0, :2]
    assert yaw == pytest.approx(math.atan2(heading[1], heading[0]), abs=1e-3)


def test_car_has_ackermann_steering_with_deepracer_geometry(exported):
    _, out = exported
    model = ET.parse(out.models / "deepracer" / "model.sdf").getroot().find("model")
    ack = next(p for p in model.findall("plugin") if p.get("name") == "gz::sim::systems::AckermannSteering")
    assert ack.get("filename") == "gz-sim-ackermann-steering-system"
    assert float(ack.findtext("wheel_base")) == pytest.approx(0.164)
    assert ack.findtext("topic") == "/model/deepracer/cmd_vel"
    assert float(ack.findtext("steering_limit")) == pytest.approx(math.radians(30), abs=1e-3)
    joints = {j.get("name"): j for j in model.findall("joint")}
    links = {link.get("name") for link in model.findall("link")}
    for key in ("left_joint", "right_joint", "left_steering_joint", "right_steering_joint"):
        joint = joints[ack.findtext(key)]  # the plugin names joints that exist
        assert joint.findtext("parent") in links and joint.findtext("child") in links


def test_camera_matches_the_builtin_renderer(exported):
    _, out = exported
    model = ET.parse(out.models / "deepracer" / "model.sdf").getroot().find("model")
    sensor = model.find("link/sensor[@type='camera']")
    assert sensor is not None
    cam = sensor.find("camera")
    spec = gazebo.CameraSpec()
    assert int(cam.findtext("image/width")) == 160 and int(cam.findtext("image/height")) == 120
    assert cam.findtext("image/format") == "L8"  # -> mono8 through the bridge, like our camera
    assert float(cam.findtext("horizontal_fov")) == pytest.approx(spec.horizontal_fov_rad, abs=1e-4)
    assert float(sensor.findtext("update_rate")) == pytest.approx(spec.hz)
    x, _, z, _, pitch, _ = (float(v) for v in sensor.findtext("pose").split())
    assert (x, z, pitch) == pytest.approx((spec.x_m, spec.z_m, spec.pitch_rad), abs=1e-3)
    assert sensor.findtext("topic") == "/model/deepracer/camera"


def test_bridge_maps_the_cars_topics_with_matching_types(exported):
    _, out = exported
    entries = yaml.safe_load(out.bridge.read_text())
    by_ros = {e["ros_topic_name"]: e for e in entries}
    expected = {
        "cmd_vel": ("geometry_msgs/msg/Twist", "gz.msgs.Twist", "ROS_TO_GZ"),
        "camera/image_raw": ("sensor_msgs/msg/Image", "gz.msgs.Image", "GZ_TO_ROS"),
        "camera/camera_info": ("sensor_msgs/msg/CameraInfo", "gz.msgs.CameraInfo", "GZ_TO_ROS"),
        "odom": ("nav_msgs/msg/Odometry", "gz.msgs.Odometry", "GZ_TO_ROS"),
        "/clock": ("rosgraph_msgs/msg/Clock", "gz.msgs.Clock", "GZ_TO_ROS"),
    }
    assert {k: (v["ros_type_name"], v["gz_type_name"], v["direction"]) for k, v in by_ros.items()} == expected
    # the bridge's Gazebo topics are the ones the car model publishes and subscribes
    car = (out.models / "deepracer" / "model.sdf").read_text()
    for entry in entries:
        if entry["gz_topic_name"] != "/clock":
            assert f">{entry['gz_topic_name']}<" in car, entry["gz_topic_name"]


def test_road_mesh_vertices_are_the_route_borders(exported):
    route, out = exported
    verts = _obj_vertices(out.road_mesh)
    n = len(route) - 1  # the closing row is not repeated
    assert verts.shape == (2 * n, 3)
    np.testing.assert_allclose(verts[0::2, :2], route[:n, 2:4], atol=1e-5)
    np.testing.assert_allclose(verts[1::2, :2], route[:n, 4:6], atol=1e-5)
    faces = _obj_faces(out.road_mesh)
    assert len(faces) == 2 * n and all(1 <= i <= 2 * n for f in faces for i in f)


def test_road_triangles_face_up_and_cover_the_road(exported):
    route, out = exported
    verts = _obj_vertices(out.road_mesh)
    area = 0.0
    for f in _obj_faces(out.road_mesh):
        a, b, c = (verts[i - 1, :2] for i in f)
        cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        assert cross > 0  # counter-clockwise seen from above: visible to a camera looking down
        area += cross / 2
    # road area ~ centre-line length x width
    length = np.sum(np.linalg.norm(np.diff(route[:, :2], axis=0), axis=1))
    assert area == pytest.approx(length * 0.8, rel=0.05)


def test_border_lines_lie_on_the_road_edges(exported):
    route, out = exported
    verts = _obj_vertices(out.lines_mesh)
    n = len(route) - 1
    assert verts.shape == (4 * n, 3)
    np.testing.assert_allclose(verts[0 : 2 * n : 2, :2], route[:n, 2:4], atol=1e-5)  # inner line starts at the inner border
    np.testing.assert_allclose(verts[2 * n + 1 :: 2, :2], route[:n, 4:6], atol=1e-5)  # outer line ends at the outer border
    widths = np.linalg.norm(verts[1 : 2 * n : 2, :2] - verts[0 : 2 * n : 2, :2], axis=1)
    np.testing.assert_allclose(widths, gazebo.LINE_WIDTH_M, atol=1e-6)
    assert max(i for f in _obj_faces(out.lines_mesh) for i in f) == 4 * n
    assert (verts[:, 2] > gazebo.ROAD_Z).all()  # drawn over the road


def test_real_deepracer_route_exports(shared, tmp_path):
    route = np.load(shared("tracks", "reinvent_base.npy"))
    out = gazebo.export_gazebo(route, tmp_path, track_name="reinvent_base")
    verts = _obj_vertices(out.road_mesh)
    np.testing.assert_allclose(verts[0::2, :2], route[:-1, 2:4], atol=1e-5)
    ET.parse(out.world)


def test_route_file_path_is_accepted(tmp_path):
    np.save(tmp_path / "oval.npy", _oval())
    out = gazebo.export_gazebo(tmp_path / "oval.npy", tmp_path / "gz")
    assert out.road_mesh.is_file()


@pytest.mark.parametrize("bad", [np.zeros((10, 4)), np.zeros((2, 6)), np.zeros(6)])
def test_malformed_route_is_a_track_error(bad, tmp_path):
    with pytest.raises(TrackError, match=r"\(N, 6\)"):
        gazebo.export_gazebo(bad, tmp_path)


def test_unreadable_route_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.npy"
    bad.write_text("not numpy")
    with pytest.raises(TrackError, match="broken.npy"):
        gazebo.route_borders(bad)


def test_camera_spec_follows_the_renderers_mounting():
    from deepracer.sim.camera import CameraPose

    pose, spec = CameraPose(), gazebo.CameraSpec()
    assert spec.horizontal_fov_rad == pytest.approx(math.radians(pose.hfov_deg))
    assert (spec.x_m, spec.z_m) == (pose.forward_m, pose.height_m)
    assert spec.pitch_rad == pytest.approx(math.radians(pose.pitch_deg))


def test_obstacles_and_bot_cars_are_placed_in_the_world(tmp_path):
    import xml.etree.ElementTree as ET

    from deepracer.sim import SimConfig, Simulator
    from deepracer.sim.gazebo import export_gazebo
    from deepracer.sim.objects import BotConfig, RaceType

    for race_type, prefix, n in ((RaceType.OBJECT_AVOIDANCE, "obstacle_", 3), (RaceType.HEAD_TO_BOT, "bot_car_", 2)):
        sim = Simulator(SimConfig(track="oval", race_type=race_type, bots=BotConfig(count=2)))
        exp = export_gazebo(sim.track, tmp_path / str(race_type), track_name="oval", objects=sim.object_list)
        world = ET.parse(exp.world).getroot().find("world")
        models = [m for m in world.findall("model") if m.get("name", "").startswith(prefix)]
        assert len(models) == n
        for m, o in zip(models, sim.object_list, strict=True):
            x, y, z, _, _, yaw = map(float, m.find("pose").text.split())
            assert (x, y, yaw) == pytest.approx((o.x, o.y, o.yaw), abs=1e-3)
            size = [float(v) for v in m.find("link/collision/geometry/box/size").text.split()]
            assert z == pytest.approx(size[2] / 2)
            if prefix == "obstacle_":
                assert size == pytest.approx([0.40, 0.30, 0.25])


def test_bot_trajectories_follow_the_simulators_bots_along_their_lanes():
    from deepracer.sim import SimConfig, Simulator
    from deepracer.sim.gazebo import bot_trajectories
    from deepracer.sim.objects import BotConfig, RaceType

    sim = Simulator(SimConfig(track="oval", race_type=RaceType.HEAD_TO_BOT, seed=4,
                              bots=BotConfig(count=2, speed_mps=0.5, lane_change=True, lane_change_min_s=2.0,
                                             lane_change_max_s=3.0)))
    paths = bot_trajectories(sim.objects)
    assert len(paths) == 2
    period = sim.track.length_m / 0.5
    for path in paths:
        assert path[0][0] == 0.0 and path[-1][0] == pytest.approx(period)
        steps = [math.hypot(b[1] - a[1], b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(path[:-2], path[1:-1], strict=True)]
        assert np.median(steps) == pytest.approx(0.5, rel=0.05)  # the bot's speed
        yaws = np.array([w[3] for w in path])
        assert np.abs(np.diff(yaws)).max() < 1.0  # unwrapped: no spin at ±pi
    # the same bots, driven by the simulator itself: the same poses at the same times (lane changes too)
    objects = sim.objects
    t0 = objects._t
    lateral = set()
    for k in range(1, 80):  # stepped at the trajectory's waypoints
        objects.update(t0 + paths[0][k][0])
        for path, o in zip(paths, objects.items, strict=True):
            assert (path[k][1], path[k][2]) == pytest.approx((o.x, o.y), abs=1e-6)
            lateral.add(o.f > 0)
    assert lateral == {True, False}  # both lanes driven: the lane changes are in the trajectories
