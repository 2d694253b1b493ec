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
"""

from __future__ import annotations

from pathlib import Path

import cv2
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from deepracer.camera_profile import CameraProfileWatch
from deepracer.control.kinematics import action_to_twist
from deepracer.errors import DeepRacerError, ModelPackageError
from deepracer.messages import PolicyAction
from deepracer.model.policy import OnnxPolicy
from deepracer.paths import bundled_model
from deepracer_nodes.executors import spin_node
from deepracer_nodes.image_conversion import from_image_msg

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

    def _load(self, model: str, num_threads: int | None = None) -> OnnxPolicy:
        threads = num_threads if num_threads is not None else int(self.get_parameter("num_threads").value)
        return OnnxPolicy(str(self._resolve(model)), num_threads=threads)

    def _validate_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """On-set: a new model (or thread count) is loaded and checked here; a bad one is refused with
        the reason and the old model keeps driving. The loaded one waits for the post-set callback."""
        model = next((p.value for p in params if p.name == "model"), None)
        threads = next((int(p.value) for p in params if p.name == "num_threads"), None)
        if threads is not None and threads < 1:
            return SetParametersResult(successful=False, reason="num_threads must be >= 1")
        if model is None and threads is None:
            return SetParametersResult(successful=True)
        if model is None:
            model = self.get_parameter("model").value
        try:
            self._loaded = self._load(str(model), threads)
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
    def _on_image(self, msg: Image) -> None:
        received_ns = self.get_clock().now().nanoseconds
        policy = self.policy
        if policy is None:
            return
        try:
            frame, encoding = from_image_msg(msg)
            if encoding == "rgb8":
                frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            decision = policy.predict(frame)
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


def main(args: list[str] | None = None) -> None:
    spin_node(InferenceNode, args)


if __name__ == "__main__":
    main()
