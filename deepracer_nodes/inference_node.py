"""inference_node: camera/image_raw -> model package -> policy/cmd_vel (+ policy/action diagnostics).

One inference per processed frame, always on the newest frame: the subscription keeps
only the latest image (KEEP_LAST 1), so frames that arrive while the network runs
replace each other instead of queueing up (a queued frame is a stale command).
Best-effort reliability matches reliable and best-effort camera publishers alike.

Parameters: `model` (package folder or .tar.gz; "" = the bundled model) and
`num_threads`. Setting `model` at run time validates the new package first: a bad
package is refused with the reason and the old model keeps driving. `~/reload`
(std_srvs/Trigger) reloads the current `model` path, e.g. after replacing the file.
`camera/camera_info` is compared with the camera profile the model was trained for (its
metadata's `camera_profile`): a different field of view or lens model is warned about by name, once.

Sensors (DeepRacer's model_metadata.json `sensor` list): `sensors` names what this car has
(default the stock car's FRONT_FACING_CAMERA; e.g. [STEREO_CAMERAS, LIDAR] on an Evo or in the
simulator); a model needing a sensor not in it is refused by name, at start-up and on a switch.
A STEREO_CAMERAS model runs once per `camera/left/image_raw` frame with its
`camera/right/image_raw` frame (stamps at most STEREO_MAX_SKEW_S apart, whichever comes first); a LiDAR model adds the
newest `scan` (sensor_msgs/LaserScan, at most SCAN_MAX_AGE_S older than the frame; a frame that
comes before its scan runs when the scan arrives). A frame whose partner never comes is skipped
(nothing published: control_node's watchdog stops the car).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, LaserScan
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deepracer.camera_profile import CameraProfileWatch
from deepracer.control.kinematics import action_to_twist
from deepracer.errors import DeepRacerError, ModelPackageError
from deepracer.messages import PolicyAction
from deepracer.model.policy import OnnxPolicy
from deepracer.model.preprocess import stereo_pair
from deepracer.paths import bundled_model
from deepracer_nodes.executors import spin_node
from deepracer_nodes.image_conversion import from_image_msg

STEREO_MAX_SKEW_S = 0.1  # left and right frames of one stereo pair (sim_node stamps them alike)
SCAN_MAX_AGE_S = 0.5  # a LiDAR turns at 10 Hz: a scan this much older than the frame means it stopped
CAR_SENSORS = ["FRONT_FACING_CAMERA"]  # the stock DeepRacer

NEWEST_FRAME_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
# policy/action: the last decisions are kept for a reader that asks for them (transient local), so
# a recorder matched a little late (run_sim_graph) still gets the first frames' actions; volatile
# readers match as usual
ACTION_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


class InferenceNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("inference_node", **kwargs)
        self.declare_parameter("model", "", ParameterDescriptor(
            description='model package folder or .tar.gz; "" = the bundled model'))
        self.declare_parameter("num_threads", 1, ParameterDescriptor(
            description="onnxruntime intra-op threads"))
        self.declare_parameter("sensors", list(CAR_SENSORS), ParameterDescriptor(
            description="the car's sensors, DeepRacer's names (FRONT_FACING_CAMERA, STEREO_CAMERAS, LIDAR): "
                        "a model needing another is refused by name"))
        self._right: Image | None = None  # the newest camera/right/image_raw frame
        self._left: Image | None = None  # the newest left frame not yet run (waiting for its right frame)
        self._waiting: Image | None = None  # a LiDAR model's frame that came before its scan
        self._scan: LaserScan | None = None  # the newest scan
        self.policy: OnnxPolicy | None = None
        self.frames_processed = 0
        try:
            self.policy = self._load(self.get_parameter("model").value)
            self.get_logger().info(f"model {self.policy.name} loaded from {self.policy.package.source}")
        except DeepRacerError as err:
            self.get_logger().error(f"no model loaded, publishing nothing until one is set: {err}")
        # validate (load) in on-set, act (swap) in post-set
        self._loaded: OnnxPolicy | None = None
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.cmd_pub = self.create_publisher(Twist, "policy/cmd_vel", 10)
        self.action_pub = self.create_publisher(String, "policy/action", ACTION_QOS)
        self.create_subscription(Image, "camera/image_raw", self._on_image, NEWEST_FRAME_QOS)
        self.create_subscription(Image, "camera/left/image_raw", self._on_left, NEWEST_FRAME_QOS)
        self.create_subscription(Image, "camera/right/image_raw", self._on_right, NEWEST_FRAME_QOS)
        self.create_subscription(LaserScan, "scan", self._on_scan, NEWEST_FRAME_QOS)
        self.camera_watch = CameraProfileWatch()
        self.create_subscription(CameraInfo, "camera/camera_info", self._on_camera_info, NEWEST_FRAME_QOS)
        self.create_service(Trigger, "~/reload", self._on_reload)

    # -- model management -----------------------------------------------------------------
    def _resolve(self, model: str) -> Path:
        if model:
            return Path(model).expanduser()
        path = bundled_model()
        if not path.exists():
            raise ModelPackageError("the bundled model does not exist yet; set the `model` parameter "
                                    "to a model package (folder or .tar.gz)", path)
        return path

    def _load(self, model: str, num_threads: int | None = None, sensors: list[str] | None = None) -> OnnxPolicy:
        threads = num_threads if num_threads is not None else int(self.get_parameter("num_threads").value)
        if sensors is None:
            sensors = list(self.get_parameter("sensors").value)
        from deepracer.model.sensors import Sensor

        unknown = [n for n in sensors if n not in {s.value for s in Sensor}]
        if unknown:
            raise ModelPackageError(f"inference_node: unknown sensor(s) {unknown} in parameter `sensors`; "
                                    f"DeepRacer's are {', '.join(s.value for s in Sensor)}")
        return OnnxPolicy(str(self._resolve(model)), num_threads=threads, sensors=sensors)

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """On-set: a new model (or thread count) is loaded and checked here; a bad one is refused with
        the reason and the old model keeps driving. The loaded one waits for the post-set callback."""
        model = next((p.value for p in params if p.name == "model"), None)
        threads = next((int(p.value) for p in params if p.name == "num_threads"), None)
        sensors = next((list(p.value) for p in params if p.name == "sensors"), None)
        if threads is not None and threads < 1:
            return SetParametersResult(successful=False, reason="num_threads must be >= 1")
        if model is None and threads is None and sensors is None:
            return SetParametersResult(successful=True)
        if model is None:
            model = self.get_parameter("model").value
        try:
            self._loaded = self._load(str(model), threads, sensors)
        except DeepRacerError as err:
            self.get_logger().error(f"model {model!r} refused, keeping {self._model_name()}: {err}")
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]) -> None:
        """Post-set: the change was accepted; the model loaded in on-set starts driving."""
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            self._swap(loaded)

    def _on_reload(self, _request, response):
        try:
            self._swap(self._load(self.get_parameter("model").value))
        except DeepRacerError as err:
            response.success, response.message = False, f"reload failed, keeping {self._model_name()}: {err}"
            self.get_logger().error(response.message)
            return response
        response.success, response.message = True, f"loaded {self._model_name()}"
        return response

    def _swap(self, policy: OnnxPolicy) -> None:
        self.policy = policy  # one reference assignment: a frame sees the old or the new model, whole
        self.get_logger().info(f"model {policy.name} active ({policy.package.source})")

    def _model_name(self) -> str:
        return self.policy.name if self.policy is not None else "no model"

    def _on_camera_info(self, msg: CameraInfo) -> None:
        """Is this the camera the model was trained for? Logged when the answer can have changed."""
        policy = self.policy
        if policy is None:
            return
        report = self.camera_watch.update(policy.package.metadata.camera_profile, policy.name, msg.width, msg.height,
                                          list(msg.k), msg.distortion_model, list(msg.d))
        if report is not None:
            level, text = report
            if level == "warning":  # one call site per severity: rclpy refuses to change it at a site
                self.get_logger().warning(text)
            else:
                self.get_logger().info(text)

    # -- the hot path -------------------------------------------------------------------------
    def _on_right(self, msg: Image) -> None:
        self._right = msg
        left, policy = self._left, self.policy
        # the right frame of a pair whose left frame came first: run the pair now
        if (left is not None and policy is not None and policy.stereo
                and abs(_stamp_s(msg.header.stamp) - _stamp_s(left.header.stamp)) <= STEREO_MAX_SKEW_S):
            self._left = None
            self._infer(left, policy)

    def _on_scan(self, msg: LaserScan) -> None:
        self._scan = msg
        frame, policy = self._waiting, self.policy
        if frame is not None and policy is not None and policy.needs_lidar:
            age = _stamp_s(frame.header.stamp) - _stamp_s(msg.header.stamp)
            if -STEREO_MAX_SKEW_S <= age <= SCAN_MAX_AGE_S:  # the scan this frame waited for
                self._waiting = None
                self._infer(frame, policy)

    def _on_left(self, msg: Image) -> None:
        policy = self.policy
        if policy is None or not policy.stereo:
            return
        right = self._right
        if right is not None and _stamp_s(right.header.stamp) >= _stamp_s(msg.header.stamp) - STEREO_MAX_SKEW_S:
            self._left = None
            self._infer(msg, policy)
        else:  # its right frame has not come yet: it runs when that arrives (either order)
            self._left = msg

    def _on_image(self, msg: Image) -> None:
        policy = self.policy
        if policy is None or policy.stereo:
            return
        self._waiting = None
        if policy.needs_lidar and not self._scan_fits(msg):
            self._waiting = msg  # runs when its scan comes; if none comes, nothing is published for it
            self.get_logger().warning(f"frame waits for a scan: {'none yet' if self._scan is None else 'the last is stale'} "
                                      f"(a {policy.lidar_sensor} model)", throttle_duration_sec=5.0)
            return
        self._infer(msg, policy)

    def _scan_fits(self, msg: Image) -> bool:
        scan = self._scan
        return scan is not None and _stamp_s(msg.header.stamp) - _stamp_s(scan.header.stamp) <= SCAN_MAX_AGE_S

    def _partner_frames(self, msg: Image, policy: OnnxPolicy) -> tuple[Image | None, np.ndarray | None]:
        """The stereo partner and the LiDAR ranges this frame is run with; raises when one is missing."""
        t = _stamp_s(msg.header.stamp)
        right = None
        if policy.stereo:
            right = self._right
            if right is None:
                raise ValueError("no camera/right/image_raw frame yet (a STEREO_CAMERAS model)")
            if abs(_stamp_s(right.header.stamp) - t) > STEREO_MAX_SKEW_S:
                raise ValueError(f"the newest right frame is {_stamp_s(right.header.stamp) - t:+.3f} s from the left "
                                 f"one (more than {STEREO_MAX_SKEW_S} s)")
        ranges = None
        if policy.needs_lidar:
            scan = self._scan
            if scan is None:
                raise ValueError(f"no scan yet (a {policy.lidar_sensor} model)")
            if t - _stamp_s(scan.header.stamp) > SCAN_MAX_AGE_S:
                raise ValueError(f"the newest scan is {t - _stamp_s(scan.header.stamp):.2f} s old "
                                 f"(more than {SCAN_MAX_AGE_S} s)")
            ranges = np.asarray(scan.ranges, np.float32)
            ranges[(ranges < scan.range_min) | (ranges > scan.range_max)] = np.inf  # REP 117: out of range
        return right, ranges

    def _infer(self, msg: Image, policy: OnnxPolicy) -> None:
        received_ns = self.get_clock().now().nanoseconds
        try:
            right, ranges = self._partner_frames(msg, policy)
            frame, encoding = from_image_msg(msg)
            if encoding == "rgb8":
                frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            if right is not None:
                other, other_encoding = from_image_msg(right)
                if other_encoding == "rgb8":
                    other = cv2.cvtColor(other, cv2.COLOR_RGB2BGR)
                frame = stereo_pair(frame, other)
            decision = policy.predict(frame, ranges)
        except Exception as err:  # a bad frame or an onnxruntime error must not kill the node:
            # nothing is published for this frame, so control_node's watchdog stops the car
            self.get_logger().warning(f"frame skipped: {err}", throttle_duration_sec=5.0)
            return
        twist = Twist()
        twist.linear.x, twist.angular.z = action_to_twist(decision.steering_angle, decision.speed)
        self.cmd_pub.publish(twist)
        self.frames_processed += 1
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        now_ns = self.get_clock().now().nanoseconds
        self.action_pub.publish(String(data=PolicyAction(
            steering_angle=decision.steering_angle,
            speed=decision.speed,
            index=decision.index,
            frame_stamp=msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,  # exact for whole seconds
            inference_ms=round(decision.inference_ms, 3),
            latency_ms=round((now_ns - stamp_ns) / 1e6, 3),
            model=policy.name,
            received_ms=round((received_ns - stamp_ns) / 1e6, 3),
        ).to_json()))


def _stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def main(args: list[str] | None = None) -> None:
    spin_node(InferenceNode, args)


if __name__ == "__main__":
    main()
