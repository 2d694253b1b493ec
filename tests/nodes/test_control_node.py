"""control_node with real rclpy: modes, watchdog, e-stop latch, speed scale, validation."""

from __future__ import annotations

import itertools

import pytest

rclpy = pytest.importorskip("rclpy")
import ros_rig  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.parameter_client import AsyncParameterClient  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from deepracer.errors import ConfigError  # noqa: E402
from deepracer_nodes.control_node import ControlNode  # noqa: E402

pytestmark = pytest.mark.ros
_ns = itertools.count()


def twist(x: float, z: float) -> Twist:
    """What teleop_twist_keyboard sends: linear.x and angular.z, the rest zero."""
    msg = Twist()
    msg.linear.x, msg.angular.z = x, z
    return msg


class Rig(ros_rig.Rig):
    """ControlNode + a test node publishing the sources and recording cmd_vel, on one executor."""

    def __init__(self, ctx, **params):
        super().__init__(ctx, ControlNode, f"/t_control_{next(_ns)}", params)
        self.received: list[tuple[float, float]] = []
        self.probe.create_subscription(Twist, "cmd_vel", lambda m: self.received.append((m.linear.x, m.angular.z)), 50)
        self.teleop = self.probe.create_publisher(Twist, "teleop/cmd_vel", 10)
        self.policy = self.probe.create_publisher(Twist, "policy/cmd_vel", 10)
        self.estop = self.probe.create_publisher(Bool, "estop", 10)
        assert self.spin_until(lambda: all(p.get_subscription_count() > 0 for p in (self.teleop, self.policy, self.estop)))
        assert self.spin_until(lambda: len(self.received) > 0)  # cmd_vel connected (watchdog zeros)

    def send(self, pub, msg, expect=None):
        """Publish and wait for the next cmd_vel (or for one equal to `expect`)."""
        n = len(self.received)
        pub.publish(msg)
        if expect is None:
            assert self.spin_until(lambda: len(self.received) > n)
            return self.received[-1]
        assert self.spin_until(lambda: expect in self.received[n:]), self.received[n:]
        return expect

    def call(self, service: str) -> Trigger.Response:
        client = self.probe.create_client(Trigger, f"{self.ns}/control_node/{service}")
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        assert self.spin_until(future.done)
        return future.result()


@pytest.fixture
def rig(ros_context):
    yield from ros_rig.make_rigs(Rig, ros_context)


def test_boots_stopped_and_publishes_only_zero(rig):
    r = rig()
    assert r.node.get_parameter("mode").value == "stopped"
    r.teleop.publish(twist(1.0, 0.5))
    r.policy.publish(twist(1.0, 0.5))
    n = len(r.received)
    assert r.spin_until(lambda: len(r.received) >= n + 4)  # the watchdog keeps saying zero
    assert set(r.received) == {(0.0, 0.0)}


def test_manual_drives_from_a_teleop_keyboard_twist(rig):
    r = rig(mode="manual")
    assert r.send(r.teleop, twist(0.5, 1.0), expect=(0.5, 1.0))
    r.policy.publish(twist(2.0, 0.0))  # ignored in manual
    r.spin_for(0.1)
    assert (2.0, 0.0) not in r.received


def test_autonomous_via_service_drives_from_policy(rig):
    r = rig()
    res = r.call("autonomous")
    assert res.success and r.node.get_parameter("mode").value == "autonomous"
    assert r.send(r.policy, twist(1.2, -0.8), expect=(1.2, -0.8))
    r.teleop.publish(twist(0.3, 0.0))
    r.spin_for(0.1)
    assert (0.3, 0.0) not in r.received
    assert r.call("stop").success
    n = len(r.received)
    r.policy.publish(twist(1.2, -0.8))
    assert r.spin_until(lambda: len(r.received) >= n + 3)
    assert set(r.received[n:]) == {(0.0, 0.0)}


def test_stale_command_turns_into_zero(rig):
    r = rig(mode="manual", command_timeout=0.15)
    r.send(r.teleop, twist(0.5, 0.0), expect=(0.5, 0.0))
    n = r.received.index((0.5, 0.0))
    assert r.spin_until(lambda: (0.0, 0.0) in r.received[n + 1 :])  # nothing more from teleop


def test_fresh_commands_pass_one_for_one_without_watchdog_messages(rig):
    r = rig(mode="manual", command_timeout=2.0)
    r.send(r.teleop, twist(0.1, 0.0), expect=(0.1, 0.0))
    start = r.received.index((0.1, 0.0))
    for i in range(1, 11):
        r.send(r.teleop, twist(0.1 + i / 100, 0.0), expect=(0.1 + i / 100, 0.0))
    assert r.received[start:] == [(0.1 + i / 100, 0.0) for i in range(11)]


def test_estop_latches_until_released_and_mode_set_again(rig):
    r = rig(mode="autonomous")
    r.send(r.policy, twist(1.0, 0.0), expect=(1.0, 0.0))
    r.send(r.estop, Bool(data=True), expect=(0.0, 0.0))
    r.send(r.estop, Bool(data=False))
    n = len(r.received)
    r.policy.publish(twist(1.0, 0.0))  # released, but not re-armed
    r.spin_for(0.15)
    assert set(r.received[n:]) == {(0.0, 0.0)}
    assert r.call("autonomous").success
    assert r.send(r.policy, twist(0.9, 0.0), expect=(0.9, 0.0))


def test_mode_service_while_estop_pressed_keeps_zero(rig):
    r = rig(mode="manual")
    r.send(r.estop, Bool(data=True), expect=(0.0, 0.0))
    res = r.call("manual")
    assert res.success and "e-stop" in res.message
    n = len(r.received)
    r.teleop.publish(twist(0.5, 0.0))
    r.spin_for(0.15)
    assert set(r.received[n:]) == {(0.0, 0.0)}


def test_speed_scale_keeps_the_steering_angle(rig):
    r = rig(mode="autonomous", max_speed_scale=0.5)
    assert r.send(r.policy, twist(2.0, 4.0), expect=(1.0, 2.0))
    r.node.set_parameters([Parameter("max_speed_scale", value=0.25)])
    assert r.send(r.policy, twist(2.0, 4.0), expect=(0.5, 1.0))


def test_non_finite_command_is_rejected_as_zero(rig):
    r = rig(mode="manual")
    r.send(r.teleop, twist(0.5, 0.0), expect=(0.5, 0.0))
    n = len(r.received)
    r.teleop.publish(twist(float("nan"), 0.0))
    assert r.spin_until(lambda: len(r.received) > n)
    assert r.received[n] == (0.0, 0.0)


def test_bad_mode_and_scale_are_rejected_like_ros2_param_set(rig):
    r = rig(mode="manual")
    client = AsyncParameterClient(r.probe, f"{r.ns}/control_node")
    assert client.wait_for_services(timeout_sec=5.0)
    for name, value, why in [("mode", "turbo", "stopped, manual, autonomous"), ("max_speed_scale", 1.5, "[0, 1]")]:
        future = client.set_parameters([Parameter(name, value=value)])
        assert r.spin_until(future.done)
        result = future.result().results[0]
        assert not result.successful and why in result.reason
    assert r.node.get_parameter("mode").value == "manual"
    assert r.node.get_parameter("max_speed_scale").value == 1.0
    future = client.set_parameters([Parameter("mode", value="autonomous")])  # `ros2 param set` works
    assert r.spin_until(future.done) and future.result().results[0].successful
    assert r.send(r.policy, twist(0.4, 0.0), expect=(0.4, 0.0))


def test_bad_mode_in_the_config_fails_at_start(ros_context):
    with pytest.raises(ConfigError, match="turbo"):
        ControlNode(context=ros_context, namespace=f"/t_control_{next(_ns)}",
                    parameter_overrides=[Parameter("mode", value="turbo")])
