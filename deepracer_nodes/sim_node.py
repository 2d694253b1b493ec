"""sim_node: the simulator behind the car's topics (replaces camera_node and servo_node).

Publishes `camera/image_raw` + `camera/camera_info` (stamped in sim time), `odom`, `/clock`
and `sim/status` (JSON); `camera/left/image_raw` + `camera/right/image_raw` (STEREO_CAMERAS) and
`scan` (LaserScan, DeepRacer's LiDAR) when the `model` parameter's sensor list needs them (or the
`stereo` / `lidar` parameters ask for them); obeys `cmd_vel` like the servo does (last steering angle kept at
zero speed, zero speed when commands stop). The node itself runs on wall time (it is the
clock's source); every other node in the sim graph has `use_sim_time`.

Two modes:
- real time (default): a wall timer advances physics at `physics_hz`, publishes /clock on
  every physics step and a frame every camera period.
- lock-step (`lock_step: true`): frame k is published, and the first `cmd_vel` after it
  advances exactly one camera period, then frame k+1 goes out. Event driven (the executor
  is never blocked); the clock stands still while a frame is processed, so control_node's
  watchdog (sim time) cannot fire mid-frame. If no command comes within `lock_step_timeout`
  wall seconds the node steps with zero speed and warns. The race starts with the first
  command with a non-zero speed: before it, zero commands (control_node's start-up and
  watchdog zeros while inference_node loads) do not answer frame 0, and frame 0 is re-sent
  every `lock_step_timeout` until someone drives (or, if only zero commands came, the race
  starts with the car standing).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, LaserScan
from std_msgs.msg import String

from deepracer.control.kinematics import WHEELBASE_M, twist_to_action
from deepracer.messages import SimStatus, StopReason
from deepracer.model.sensors import LIDARS
from deepracer.node_params import ENCODINGS, SimNodeParams
from deepracer_nodes.executors import spin_node
from deepracer_nodes.image_conversion import to_image_msg
from deepracer_nodes.params import declare

if TYPE_CHECKING:
    from deepracer.sim.race import RaceStatus

__all__ = ["ENCODINGS", "STATUS_DEPTH", "SimNode", "history_qos", "main"]
LIDAR_NAMES = {s.value for s in LIDARS}
STATUS_DEPTH = 1000  # steps of sim/status and odom kept for late or slow readers (~66 s at 15 Hz)


def history_qos(depth: int) -> QoSProfile:
    """Reliable, transient local: a reader that asks for it also gets what came before it joined."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _time_msg(seconds: float):
    from builtin_interfaces.msg import Time

    sec = int(math.floor(seconds))
    return Time(sec=sec, nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


class SimNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_node", **kwargs)
        # The simulator is the source of /clock: it must not wait for its own clock.
        if self.get_parameter("use_sim_time").value:
            self.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, False)])

        self.params = p = self._declare_all()
        from deepracer.sim import Simulator, load_track

        self.track = load_track(p["track"] or None)
        self.encoding = p["encoding"]
        # no DeepRacer action clip here: a 0 from control_node (stopped, e-stop, stale) stops the car
        self.config = self.node_params.sim_config(self.track, action_clip=False)
        self.sim = Simulator(self.config)
        self.camera_period = 1.0 / p["camera_hz"]
        self.physics_dt = 1.0 / p["physics_hz"]

        # Deep, transient-local histories: in lock-step the simulator can run far ahead of a
        # recorder on a busy machine, or start before the recorder is discovered, and a
        # transient-local reader must still get every step (evaluation simtraces). Volatile
        # and best-effort readers (inference_node, `ros2 topic echo`) match as usual.
        self.pub_image = self.create_publisher(Image, "camera/image_raw", history_qos(30))
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", 30)
        self.pub_odom = self.create_publisher(Odometry, "odom", history_qos(STATUS_DEPTH))
        self.pub_clock = self.create_publisher(Clock, "/clock", 10)
        self.pub_status = self.create_publisher(String, "sim/status", history_qos(STATUS_DEPTH))
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, 10)
        # the sensors a model may need besides the front camera (STEREO_CAMERAS, LIDAR / SECTOR_LIDAR):
        # asked for by parameter, or by the `sensor` list of the model the graph drives
        self.model_sensors = self._model_sensors(p["model"])
        stereo = p["stereo"] or "STEREO_CAMERAS" in self.model_sensors
        lidar = p["lidar"] or any(s in LIDAR_NAMES for s in self.model_sensors)
        self.pub_stereo = [self.create_publisher(Image, f"camera/{side}/image_raw", history_qos(30))
                           for side in ("left", "right")] if stereo else []
        self.pub_scan = self.create_publisher(LaserScan, "scan", 10) if lidar else None
        self._last_scan = None

        self.steering_deg = 0.0
        self.speed_mps = 0.0
        self.last_cmd_sim_time = -math.inf
        self.commands_received = 0
        self.frames_published = 0
        self.driving = False  # real time: the race (and time) starts with the first moving command
        self.finish_reason: StopReason | None = None  # laps_done | time_up | a failure (off_track: end)

        self.exit_request: Future = Future()  # done (exit code) when the process should end (spin_node)
        self.status = self.sim.reset(start_waypoint=p["start_waypoint"])
        self._next_frame_t = self.sim.state.t
        self._awaiting = False  # lock-step: frame sent, its command not yet received
        self._zero_answers = 0  # lock-step: zero-speed commands received before the race started
        self._frame_sent_wall = 0.0
        if p["lock_step"]:
            # only checks the fallback timeout; stepping happens in the cmd_vel callback
            self._timer = self.create_timer(min(0.05, p["lock_step_timeout"] / 4), self._lock_step_tick)
        else:
            self._wall_start: float | None = None
            self._physics_steps = 0
            self._timer = self.create_timer(self.physics_dt / p["real_time_factor"], self._real_time_tick)
        self.get_logger().info(
            f"track {self.track.name!r} ({self.track.length_m:.1f} m), "
            f"{'lock-step' if p['lock_step'] else 'real time'}, camera {p['width']}x{p['height']} "
            f"{self.encoding} @ {p['camera_hz']:g} Hz, camera profile {self.sim.config.camera.profile or 'car'!r}, "
            f"physics {p['physics_hz']:g} Hz"
        )

    def _model_sensors(self, model: str) -> list[str]:
        """The model's model_metadata.json `sensor` list ([] without a model, or when it cannot be read:
        inference_node names that problem)."""
        if not model:
            return []
        from deepracer.errors import DeepRacerError
        from deepracer.model.package import load_model_package

        try:
            sensors = list(load_model_package(model).metadata.sensor)
        except DeepRacerError as err:
            self.get_logger().warning(f"model {model!r}: its sensor list cannot be read ({err}); publishing "
                                      "the topics the stereo/lidar parameters ask for")
            return []
        self.get_logger().info(f"model {Path(model).name}: sensors {', '.join(sensors)}")
        return sensors

    def _declare_all(self) -> dict[str, Any]:
        """The parameters (deepracer.node_params.SimNodeParams: names, defaults, checks) as a dict."""
        self.node_params = declare(self, SimNodeParams)
        return dataclasses.asdict(self.node_params)

    @property
    def finished(self) -> bool:
        return bool(self.finish_reason)

    # --- commands ---------------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        self.steering_deg, self.speed_mps = twist_to_action(
            msg.linear.x, msg.angular.z, WHEELBASE_M, last_steering_deg=self.steering_deg
        )
        self.last_cmd_sim_time = self.sim.state.t
        self.commands_received += 1
        if abs(self.speed_mps) > 0:
            self.driving = True
        if self.params["lock_step"] and self._awaiting:
            if not self.driving:
                # Before the race starts a zero command is not an answer to frame 0: it is
                # control_node's start-up/watchdog zero while inference_node is still loading.
                self._zero_answers += 1
                return
            self._awaiting = False
            self._lock_step_advance(self.steering_deg, self.speed_mps)

    def command(self) -> tuple[float, float]:
        """(steering, speed) to apply now: zero speed once finished or without fresh commands."""
        if self.finished or self.sim.state.t - self.last_cmd_sim_time > self.params["command_timeout"]:
            return self.steering_deg, 0.0
        return self.steering_deg, self.speed_mps

    # --- real time --------------------------------------------------------------------
    def _real_time_tick(self) -> None:
        if not self._reader_ready():
            return
        if not self.driving:
            # Nobody drives yet (the model may still be loading): offer the start frame at
            # camera rate, time stands still, so the race starts with the first command.
            now = time.monotonic()
            if now - self._frame_sent_wall >= self.camera_period:
                self._publish_clock()
                self._publish_odom_status(self.status)
                self._publish_frame()
                self._frame_sent_wall = now
            return
        now = time.monotonic()
        if self._wall_start is None:
            self._wall_start = now
        # catch up with wall time (bounded, so a stalled process does not spin for ever)
        due = int((now - self._wall_start) * self.params["real_time_factor"] / self.physics_dt) - self._physics_steps
        for _ in range(max(0, min(due, 5))):
            self._physics_steps += 1
            steering, speed = self.command()
            status = self.sim.advance(self.physics_dt, steering, speed)
            self._publish_clock()
            if self.sim.state.t + 1e-9 >= self._next_frame_t + self.camera_period:
                self._next_frame_t += self.camera_period
                self._after_step(status)
                self._publish_frame()
        if due > 5:  # too far behind: drop the backlog instead of running faster than real time
            self._physics_steps += due - 5

    def _reader_ready(self) -> bool:
        return not self.params["wait_for_status_reader"] or self.pub_status.get_subscription_count() > 0

    # --- lock-step --------------------------------------------------------------------
    def _lock_step_tick(self) -> None:
        now = time.monotonic()
        if self.frames_published == 0:
            if self.pub_image.get_subscription_count() > 0 and self._reader_ready():
                self._publish_clock()
                self._publish_odom_status(self.status)
                self._send_lock_step_frame(now)
            return
        if not self._awaiting or now - self._frame_sent_wall < self.params["lock_step_timeout"]:
            return
        if not self.driving:
            if self._zero_answers == 0:  # nobody drives yet: offer the first frame again
                self._send_lock_step_frame(now)
                return
            # the driver answers, but only with zero speed: start anyway (the car stands)
            self.driving = True
            self.get_logger().warning(f"lock-step: only zero-speed commands for {self.params['lock_step_timeout']:.2f} s; "
                                      "starting the race with the car standing")
            self._awaiting = False
            self._lock_step_advance(self.steering_deg, 0.0)
            return
        self.get_logger().warning(
            f"lock-step: no cmd_vel within {self.params['lock_step_timeout']:.2f} s of frame "
            f"{self.frames_published - 1}; stepping with zero speed"
        )
        self._awaiting = False
        self._lock_step_advance(self.steering_deg, 0.0)

    def _lock_step_advance(self, steering: float, speed: float) -> None:
        if self.finished:
            return
        status = self.sim.step(steering, speed)
        self._publish_clock()
        self._after_step(status)
        if not self.finished:
            self._send_lock_step_frame(time.monotonic())

    def _send_lock_step_frame(self, now: float) -> None:
        self._publish_frame()
        self._frame_sent_wall = now
        self._awaiting = True

    # --- publishing -------------------------------------------------------------------
    def _after_step(self, status: RaceStatus) -> None:
        self.status = status
        if not self.finished:
            max_laps, max_time = self.params["max_laps"], self.params["max_time"]
            if max_laps > 0 and len(status.lap_times) >= max_laps:
                self.finish_reason = StopReason.LAPS_DONE
                laps = ", ".join(f"{t:.2f} s" for t in status.lap_times)
                self.get_logger().info(f"{len(status.lap_times)} lap(s) done: {laps}; car stopped")
            elif max_time > 0 and status.sim_time >= max_time - 1e-9:
                self.finish_reason = StopReason.TIME_UP
                self.get_logger().info(f"time up after {status.sim_time:.1f} s; car stopped")
            elif self.sim.done:
                self.finish_reason = StopReason(status.status)
                self.get_logger().info(f"episode over: {status.status}; car stopped")
        self._publish_odom_status(status)
        if self.finished and self.params["exit_when_finished"] and not self.exit_request.done():
            self.exit_request.set_result(0)

    def _publish_clock(self) -> None:
        self.pub_clock.publish(Clock(clock=_time_msg(self.sim.state.t)))

    def _publish_frame(self) -> None:
        stamp = _time_msg(self.sim.state.t)
        # the scan and the right image first: the frame a model runs on (front or left) comes with its
        # partners already there (inference_node also pairs them in either order)
        if self.pub_scan is not None:
            self._publish_scan(stamp)
        if self.pub_stereo:
            pair = self.sim.render_stereo()
            for k in (1, 0):  # right, then left
                self.pub_stereo[k].publish(to_image_msg(pair[:, :, k].copy(), "mono8", stamp, self.params["frame_id"]))
        frame = self.sim.render()  # the obstacles and bot cars drawn in it
        self.pub_image.publish(to_image_msg(frame, self.encoding, stamp, self.params["frame_id"]))
        self.pub_info.publish(self._camera_info(stamp))
        self.frames_published += 1

    def _publish_scan(self, stamp) -> None:
        """sensor_msgs/LaserScan of DeepRacer's LiDAR, when it has made a new scan (10 Hz)."""
        from deepracer.sim.sensors import LIDAR_HZ, LIDAR_MAX_M, LIDAR_MIN_M

        ranges = self.sim.lidar_scan()
        if ranges is self._last_scan:
            return
        self._last_scan = ranges
        lidar = self.sim.lidar
        msg = LaserScan()
        msg.header.stamp = stamp
        msg.header.frame_id = "laser"
        msg.angle_min = float(lidar.angles[0])
        msg.angle_max = float(lidar.angles[-1])
        msg.angle_increment = float(lidar.increment)
        msg.scan_time = 1.0 / LIDAR_HZ
        msg.range_min, msg.range_max = LIDAR_MIN_M, LIDAR_MAX_M
        msg.ranges = [float(r) for r in ranges]
        self.pub_scan.publish(msg)

    def _camera_info(self, stamp) -> CameraInfo:
        info = CameraInfo()
        info.header.stamp = stamp
        info.header.frame_id = self.params["frame_id"]
        info.width, info.height = self.params["width"], self.params["height"]
        fx = info.width / 2.0 / math.tan(math.radians(self.config.camera.hfov_deg) / 2.0)
        cx, cy = info.width / 2.0, info.height / 2.0
        info.distortion_model = "plumb_bob"
        info.d = [0.0] * 5
        info.k = [fx, 0.0, cx, 0.0, fx, cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [fx, 0.0, cx, 0.0, 0.0, fx, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _publish_odom_status(self, status: RaceStatus) -> None:
        s = self.sim.state
        odom = Odometry()
        odom.header.stamp = _time_msg(s.t)
        odom.header.frame_id = "odom"
        odom.child_frame_id = "base_link"
        odom.pose.pose.position.x, odom.pose.pose.position.y = float(s.x), float(s.y)
        odom.pose.pose.orientation.z = math.sin(s.yaw / 2.0)
        odom.pose.pose.orientation.w = math.cos(s.yaw / 2.0)
        odom.twist.twist.linear.x = float(s.speed)
        odom.twist.twist.angular.z = float(s.speed * math.tan(math.radians(s.steering_deg)) / WHEELBASE_M)
        self.pub_odom.publish(odom)
        self.pub_status.publish(String(data=self.sim_status(status).to_json()))

    def sim_status(self, status: RaceStatus) -> SimStatus:
        """sim/status: DeepRacer's race state plus the car's pose (one message per step)."""
        s = self.sim.state
        return SimStatus.from_dict(status.to_dict() | {
            "x": float(s.x), "y": float(s.y), "yaw": float(s.yaw), "steering_deg": float(s.steering_deg),
            "speed": float(s.speed), "frame": self.frames_published, "finished": self.finished,
            "finish_reason": str(self.finish_reason or ""), "track": self.track.name,
        })


def main(args: list[str] | None = None) -> None:
    spin_node(SimNode, args)


if __name__ == "__main__":
    main()
