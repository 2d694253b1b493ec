"""control_node: drive modes and the fail-safe watchdog between the sources and `cmd_vel`.

Subscribes `policy/cmd_vel`, `teleop/cmd_vel` (teleop_twist_keyboard, joystick) and `estop`
(std_msgs/Bool); publishes `cmd_vel` once per accepted message from the active source, and
on a watchdog timer (node clock: sim time under use_sim_time) only while the output is
forced to zero (stopped, stale, e-stop, rejected). The logic lives in
deepracer.control.drive_modes. Mode: parameter `mode` (validated) or std_srvs/Trigger
services `~/stop`, `~/manual`, `~/autonomous`.
"""

from __future__ import annotations

import threading
from typing import Any

from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from deepracer.control.drive_modes import DriveModes, Mode, Output, Reason, Source
from deepracer.errors import ConfigError
from deepracer_nodes.executors import spin_node

WATCHDOG_PERIOD_S = 0.05  # zero is repeated at 20 Hz while forced, so a late subscriber hears it


class ControlNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("control_node", **kwargs)
        loose = ParameterDescriptor(dynamic_typing=True)  # `command_timeout: 1` is fine too
        mode = self.declare_parameter("mode", Mode.STOPPED.value).value
        timeout = self.declare_parameter("command_timeout", 0.25, loose).value
        scale = self.declare_parameter("max_speed_scale", 1.0, loose).value
        try:
            self.state = DriveModes(mode, timeout, scale)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"control_node: {err}") from err
        self._lock = threading.Lock()  # callbacks may run on a multi-threaded executor
        self._last_reason: Reason | None = None
        # validate in on-set (may refuse), act in post-set (the change is accepted by then)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.pub = self.create_publisher(Twist, "cmd_vel", 10)
        self.create_subscription(Twist, "policy/cmd_vel", lambda m: self._on_command(Source.POLICY, m), 10)
        self.create_subscription(Twist, "teleop/cmd_vel", lambda m: self._on_command(Source.TELEOP, m), 10)
        self.create_subscription(Bool, "estop", self._on_estop, 10)
        for mode_ in Mode:
            name = "stop" if mode_ is Mode.STOPPED else mode_.value
            self.create_service(Trigger, f"~/{name}", lambda req, res, m=mode_: self._on_trigger(m, res))
        self.create_timer(WATCHDOG_PERIOD_S, self._on_watchdog)  # node clock
        self.get_logger().info(f"mode {self.state.mode.value}, command_timeout {self.state.command_timeout} s")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _publish(self, out: Output) -> None:
        msg = Twist()
        msg.linear.x = out.linear_x
        msg.angular.z = out.angular_z
        self.pub.publish(msg)
        if out.reason is not self._last_reason:
            if out.reason in (Reason.ESTOP, Reason.REJECTED) or (out.reason is Reason.STALE and self._last_reason is Reason.COMMAND):
                self.get_logger().warning(f"cmd_vel forced to zero: {out.reason.value}")
            self._last_reason = out.reason

    def _on_command(self, source: Source, msg: Twist) -> None:
        with self._lock:
            out = self.state.command(source, msg.linear.x, msg.angular.z, self._now())
            if out is not None:
                self._publish(out)

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            self._publish(self.state.set_estop(msg.data, self._now()))

    def _on_watchdog(self) -> None:
        with self._lock:
            out = self.state.output(self._now())
            if out.forced_zero:
                self._publish(out)

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """On-set: check every change on a copy of the state (a bad one refuses them all); change nothing."""
        changes = {p.name: p.value for p in params}
        with self._lock:
            trial = DriveModes(self.state.mode, self.state.command_timeout, self.state.max_speed_scale)
            try:
                if "mode" in changes:
                    trial.set_mode(changes["mode"], 0.0)
                if "command_timeout" in changes:
                    trial.set_command_timeout(changes["command_timeout"])
                if "max_speed_scale" in changes:
                    trial.set_speed_scale(changes["max_speed_scale"])
            except (TypeError, ValueError) as err:
                return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]) -> None:
        """Post-set: the changes were accepted; apply them."""
        changes = {p.name: p.value for p in params}
        with self._lock:
            now = self._now()
            if "mode" in changes:
                self.state.set_mode(changes["mode"], now)
                self.get_logger().info(f"mode {self.state.mode.value}" + (" (e-stop still latched)" if self.state.estop_latched else ""))
            if "command_timeout" in changes:
                self.state.set_command_timeout(changes["command_timeout"])
            if "max_speed_scale" in changes:
                self.state.set_speed_scale(changes["max_speed_scale"])
            if "mode" in changes:
                self._publish(self.state.output(now))  # zero right away: earlier commands are forgotten

    def _on_trigger(self, mode: Mode, response: Trigger.Response) -> Trigger.Response:
        result = self.set_parameters([Parameter("mode", value=mode.value)])[0]
        response.success = result.successful
        response.message = f"mode {mode.value}" if result.successful else result.reason
        if result.successful and self.state.estop_latched:
            response.message += " (e-stop still pressed: output stays zero)"
        return response


def main(args: list[str] | None = None) -> None:
    spin_node(ControlNode, args)


if __name__ == "__main__":
    main()
