"""sim_node with real rclpy: frames, clock, odom, status, cmd_vel, lock-step and its fallback."""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from deepracer.control.kinematics import action_to_twist  # noqa: E402
from deepracer.errors import ConfigError  # noqa: E402
from deepracer_nodes.image_conversion import from_image_msg  # noqa: E402
from deepracer_nodes.sim_node import SimNode  # noqa: E402

pytestmark = pytest.mark.ros
_ns = itertools.count()


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


class Probe(Node):
    """Everything sim_node publishes; optionally answers each frame like inference + control."""

    def __init__(self, answer=None, **kwargs):
        super().__init__("probe", **kwargs)
        self.images: list[Image] = []
        self.infos: list[CameraInfo] = []
        self.clock: list[float] = []
        self.odom: list[Odometry] = []
        self.status: list[dict] = []
        self.answer = answer  # frame (np.ndarray) -> (steering_deg, speed) or None (no answer)
        self.pub = self.create_publisher(Twist, "cmd_vel", 10)
        self.create_subscription(Image, "camera/image_raw", self._on_image, 100)
        self.create_subscription(CameraInfo, "camera/camera_info", self.infos.append, 100)
        self.create_subscription(Clock, "/clock", lambda m: self.clock.append(m.clock.sec + m.clock.nanosec * 1e-9), 100)
        self.create_subscription(Odometry, "odom", self.odom.append, 100)
        self.create_subscription(String, "sim/status", lambda m: self.status.append(json.loads(m.data)), 100)

    def _on_image(self, msg: Image) -> None:
        self.images.append(msg)
        if self.answer is not None:
            action = self.answer(from_image_msg(msg)[0])
            if action is not None:
                self.send(*action)

    def send(self, steering_deg: float, speed: float) -> None:
        lin, ang = action_to_twist(steering_deg, speed)
        msg = Twist()
        msg.linear.x, msg.angular.z = lin, ang
        self.pub.publish(msg)


class Rig:
    def __init__(self, ctx, params: dict, answer=None):
        ns = f"/simtest{next(_ns)}"
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        self.sim = SimNode(context=ctx, namespace=ns, parameter_overrides=overrides)
        self.probe = Probe(answer, context=ctx, namespace=ns)
        self.executor = SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.sim)
        self.executor.add_node(self.probe)

    def __getattr__(self, name):  # r.images, r.status, ...: what the probe received
        return getattr(self.probe, name)

    def spin_until(self, cond, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)
            if cond():
                return True
        return False

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.probe.destroy_node()
        self.sim.destroy_node()


@pytest.fixture
def rig(ros_context):
    made = []

    def make(params: dict | None = None, answer=None) -> Rig:
        r = Rig(ros_context, params or {}, answer)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _straight(speed: float = 1.0):
    return lambda frame: (0.0, speed)


def test_frames_have_the_configured_size_encoding_and_sim_time_stamps(rig):
    r = rig({"lock_step": True, "width": 96, "height": 64, "camera_hz": 10.0}, answer=_straight())
    assert r.spin_until(lambda: len(r.images) >= 5 and len(r.infos) >= 5)
    img = r.images[-1]
    assert (img.width, img.height, img.encoding, img.step) == (96, 64, "mono8", 96)
    frame, _ = from_image_msg(img)
    assert frame.shape == (64, 96) and frame.std() > 5  # a real picture, not a blank
    stamps = [_stamp(m) for m in r.images[:5]]
    np.testing.assert_allclose(np.diff(stamps), 0.1, atol=1e-6)  # one camera period of sim time apart
    info_stamps = {_stamp(m) for m in r.infos}
    assert set(stamps) <= info_stamps  # camera_info carries the image's stamp
    assert r.infos[0].width == 96 and r.infos[0].k[0] > 0


def test_bgr8_encoding(rig):
    r = rig({"lock_step": True, "encoding": "bgr8"}, answer=_straight())
    assert r.spin_until(lambda: len(r.images) >= 2)
    frame, enc = from_image_msg(r.images[-1])
    assert enc == "bgr8" and frame.shape == (120, 160, 3)


def test_bad_encoding_is_rejected(ros_context):
    with pytest.raises(ConfigError, match="encoding"):
        SimNode(context=ros_context, namespace="/simbad", parameter_overrides=[Parameter("encoding", value="yuv")])


def test_cmd_vel_drives_the_car_forward(rig):
    r = rig({"lock_step": True}, answer=_straight(1.0))
    assert r.spin_until(lambda: len(r.odom) >= 31)  # 2 s of sim time
    start, end = r.odom[0].pose.pose.position, r.odom[-1].pose.pose.position
    assert math.hypot(end.x - start.x, end.y - start.y) > 1.2  # ~1 m/s for 2 s, after the speed lag
    assert r.odom[-1].twist.twist.linear.x == pytest.approx(1.0, abs=0.05)
    assert r.status[-1]["progress"] > 5


def test_steering_turns_the_car_and_zero_speed_keeps_the_angle(rig):
    r = rig({"lock_step": True}, answer=lambda f: (25.0, 0.8))
    assert r.spin_until(lambda: len(r.status) >= 20)
    assert r.status[-1]["steering_deg"] == pytest.approx(25.0, abs=0.5)
    yaw0, yaw1 = r.status[0]["yaw"], r.status[-1]["yaw"]
    assert (yaw1 - yaw0 + math.pi) % (2 * math.pi) - math.pi > 0.3  # turned left
    r.probe.answer = lambda f: (0.0, 0.0)  # zero speed: Twist carries no angle -> keep the last one
    n = len(r.status)
    assert r.spin_until(lambda: len(r.status) >= n + 10)
    assert r.sim.steering_deg == pytest.approx(25.0, abs=1e-6)
    assert r.status[-1]["speed"] == pytest.approx(0.0, abs=0.05)


def test_no_commands_no_motion_in_real_time(rig):
    r = rig({"lock_step": False})
    assert r.spin_until(lambda: len(r.images) >= 4)  # the start frame is offered to whoever drives
    r.spin_for(0.3)
    assert r.sim.sim.state.t == 0.0  # the race has not started: nobody sent a command
    assert {_stamp(m) for m in r.images} == {0.0}


def test_real_time_advances_the_clock_and_stops_on_stale_commands(rig):
    r = rig({"lock_step": False, "command_timeout": 0.3})
    assert r.spin_until(lambda: len(r.images) >= 1)
    r.probe.send(0.0, 1.0)  # one command, then silence (a crashed driver)
    assert r.spin_until(lambda: len(r.clock) > 30 and r.clock[-1] > 1.2, timeout=10)
    assert all(b >= a for a, b in zip(r.clock, r.clock[1:], strict=False))  # /clock never goes back
    assert r.status[-1]["speed"] < 0.05  # stopped: commands older than command_timeout mean zero speed
    moved = [s for s in r.status if s["speed"] > 0.3]
    assert moved and moved[0]["sim_time"] < 0.4  # it did obey the command while it was fresh
    frames = [_stamp(m) for m in r.images if _stamp(m) > 0]
    np.testing.assert_allclose(np.diff(frames), 1 / 15, atol=1e-6)  # frames every camera period


def test_lock_step_clock_stands_still_until_the_frame_is_answered(rig):
    r = rig({"lock_step": True, "lock_step_timeout": 5.0})  # probe does not answer by itself
    assert r.spin_until(lambda: len(r.images) >= 1)
    r.spin_for(0.4)
    assert len(r.images) == 1 and set(r.clock) == {0.0}  # waiting: no new frame, time frozen
    r.probe.send(0.0, 1.0)
    assert r.spin_until(lambda: len(r.images) >= 2 and max(r.clock) > 0)
    assert max(r.clock) == pytest.approx(1 / 15, abs=1e-6)  # exactly one camera period
    assert _stamp(r.images[1]) == pytest.approx(1 / 15, abs=1e-6)
    r.spin_for(0.3)
    assert len(r.images) == 2  # still one frame per command


def test_lock_step_timeout_steps_with_zero_speed(rig):
    answers = iter([(0.0, 1.5)] * 10)
    r = rig({"lock_step": True, "lock_step_timeout": 0.2}, answer=lambda f: next(answers, None))
    # 10 answered + fallback steps; the car brakes at DeepRacer's 4.9 m/s² (0.33 m/s per frame)
    assert r.spin_until(lambda: len(r.images) >= 17, timeout=15)
    speeds = [s["speed"] for s in r.status]
    assert max(speeds) > 1.0
    assert speeds[-1] < max(speeds) * 0.5  # no answers: the car slows down instead of driving on
    assert r.sim.commands_received == 10


def test_lock_step_is_deterministic_for_a_seed(ros_context):
    def drive(seed: int) -> np.ndarray:
        # steer towards the brighter half of the image: a closed-loop driver of the pictures
        def answer(frame):
            h, w = frame.shape
            bottom = frame[h // 2 :].astype(float)
            return float(np.clip((bottom[:, : w // 2].mean() - bottom[:, w // 2 :].mean()) * 0.5, -30, 30)), 1.2

        r = Rig(ros_context, {"lock_step": True, "seed": seed, "randomize": True}, answer)
        try:
            assert r.spin_until(lambda: len(r.status) >= 40)
            return np.array([(s["x"], s["y"], s["yaw"]) for s in r.status[:40]])
        finally:
            r.close()

    a, b = drive(7), drive(7)
    np.testing.assert_array_equal(a, b)
    assert np.ptp(a[:, 0]) + np.ptp(a[:, 1]) > 1.0  # it did drive


def test_status_json_reports_the_race(rig):
    r = rig({"lock_step": True}, answer=_straight(1.0))
    assert r.spin_until(lambda: len(r.status) >= 10)
    st = r.status[-1]
    for key in ("progress", "lap", "lap_time_s", "laps", "status", "off_track", "sim_time", "x", "y", "yaw", "speed"):
        assert key in st, key
    assert st["status"] == "in_progress" and st["lap"] == 0 and st["laps"] == []
    assert st["sim_time"] == pytest.approx(9 / 15, abs=1e-6)
    assert 0 < st["progress"] < 100
    odom_t = [_stamp(o) for o in r.odom]
    assert odom_t == sorted(odom_t)


def test_time_limit_stops_the_car(rig):
    r = rig({"lock_step": True, "max_time": 1.0}, answer=_straight(1.0))
    assert r.spin_until(lambda: r.status and r.status[-1]["finished"])
    assert r.status[-1]["finish_reason"] == "time_up"
    n = len(r.images)
    r.spin_for(0.3)
    assert len(r.images) == n  # episode over: no more frames


def test_sim_node_runs_on_wall_time_even_when_the_graph_uses_sim_time(rig):
    r = rig({"use_sim_time": True, "lock_step": True}, answer=_straight())
    assert r.sim.get_parameter("use_sim_time").value is False
    assert r.spin_until(lambda: len(r.images) >= 3)  # and it still runs


def test_max_laps_stops_the_car_after_the_last_lap(rig):
    from deepracer.sim.pure_pursuit import PurePursuitDriver

    holder = {}
    r = rig({"lock_step": True, "max_laps": 1, "track": "oval"},
            answer=lambda frame: holder["driver"].command(holder["sim"].state))
    holder["driver"], holder["sim"] = PurePursuitDriver(r.sim.track), r.sim.sim
    assert r.spin_until(lambda: r.status and r.status[-1]["finished"], timeout=30)
    last = r.status[-1]
    assert last["finish_reason"] == "laps_done" and len(last["laps"]) == 1
    assert last["laps"][0] == pytest.approx(last["sim_time"], abs=0.1)  # one lap, from a standing start
    n = len(r.images)
    r.spin_for(0.3)
    assert len(r.images) == n  # the race is over: no more frames, the car stands


def test_lock_step_zero_commands_before_the_start_do_not_answer_frame_0(rig):
    r = rig({"lock_step": True, "lock_step_timeout": 5.0})
    assert r.spin_until(lambda: len(r.images) >= 1)
    r.probe.send(0.0, 0.0)  # control_node's start-up zero, inference still loading
    r.probe.send(0.0, 0.0)
    r.spin_for(0.3)
    assert len(r.images) == 1 and r.sim.sim.state.t == 0.0  # still waiting for the driver
    r.probe.send(5.0, 1.0)  # the policy's answer to frame 0
    assert r.spin_until(lambda: len(r.images) >= 2 and r.status[-1]["sim_time"] > 0)
    assert r.status[-1]["sim_time"] == pytest.approx(1 / 15, abs=1e-6)
    assert r.sim.steering_deg == pytest.approx(5.0)


def test_lock_step_only_zero_commands_start_the_race_standing(rig):
    r = rig({"lock_step": True, "lock_step_timeout": 0.3}, answer=lambda f: (0.0, 0.0))
    assert r.spin_until(lambda: len(r.status) >= 5, timeout=10)
    assert r.status[-1]["sim_time"] > 0 and r.status[-1]["speed"] == 0.0
