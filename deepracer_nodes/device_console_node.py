"""device_console_node: the car's web page (deepracer.device_console) as a node of the car's graph.

A thin adapter: it implements the web app's CarBackend with the other nodes' topics,
services and parameters only, and runs uvicorn on a thread of its own, so the executor
(and the camera -> PWM path it spins) is never blocked by a browser:

- subscribes `camera/image_raw` (newest only; kept as the message, JPEG-encoded by the web
  thread only while someone watches), `policy/action`, `servo/pulses`, `/rosout` (warnings);
- publishes `teleop/cmd_vel` (one message per request from the page, never repeated here:
  when the page stops, control_node's watchdog stops the car), `estop` (std_msgs/Bool, the
  pressed state is re-sent at 2 Hz so a restarted control_node hears it), `servo/raw`;
- calls control_node's `~/stop|manual|autonomous`, sets its `max_speed_scale`, inference_node's
  `model` (it validates and swaps or refuses), servo_node's `~/get_calibration`,
  `calibration_mode` and `calibration.*` (atomically: validated, saved, last copy kept).

Parameters: `enabled` (false: no web server), `host`, `port`, `password_file`
("" = installed), `tls_cert`/`tls_key` (HTTPS), `models_dir`, `max_upload_mb`,
`manual_max_speed_mps`, `max_steering_deg`, `stream_max_fps`, `jpeg_quality`, `watch_nodes`,
and the names of the nodes it talks to.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from geometry_msgs.msg import Twist
from rcl_interfaces.msg import Log, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from deepracer.control.calibration import Calibration, flat_values
from deepracer.control.drive_modes import Mode
from deepracer.control.kinematics import WHEELBASE_M, action_to_twist
from deepracer.device_console.backend import BackendError, CarStatus, Frame, PolicyOverlay
from deepracer.device_console.system import system_snapshot
from deepracer.errors import CalibrationError, ConfigError, DeepRacerError
from deepracer.messages import MessageError, PolicyAction, PulseReason, ServoPulses
from deepracer_nodes.executors import spin_node
from deepracer_nodes.image_conversion import from_image_msg

NEWEST = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                    durability=DurabilityPolicy.VOLATILE)
CALL_TIMEOUT_S = 3.0
MODEL_LOAD_TIMEOUT_S = 60.0  # inference_node validates the package and runs a dummy inference
POLL_PERIOD_S = 1.0
ESTOP_RESEND_S = 0.5
CAMERA_STALE_S = 2.0
MAX_ERRORS = 30
DEFAULT_WATCH = ["camera_node", "inference_node", "control_node", "servo_node"]


class DeviceConsoleNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("device_console_node", **kwargs)
        loose = ParameterDescriptor(dynamic_typing=True)
        p = self.declare_parameter
        self.enabled = bool(p("enabled", True).value)
        self.host = str(p("host", "127.0.0.1").value)
        self.port = int(p("port", 8080).value)
        self.password_file = str(p("password_file", "").value)
        # HTTPS: the parameters, else the systemd unit's DEEPRACER_CONSOLE_CERT/KEY (install-system --console-https)
        self.tls_cert = str(p("tls_cert", "").value) or os.environ.get("DEEPRACER_CONSOLE_CERT", "")
        self.tls_key = str(p("tls_key", "").value) or os.environ.get("DEEPRACER_CONSOLE_KEY", "")
        self.models_dir = str(p("models_dir", "").value)
        self.max_upload_mb = float(p("max_upload_mb", 200.0, loose).value)
        self.manual_max_speed = float(p("manual_max_speed_mps", 1.0, loose).value)
        self.max_steering_deg = float(p("max_steering_deg", 30.0, loose).value)
        self.stream_max_fps = float(p("stream_max_fps", 30.0, loose).value)
        self.jpeg_quality = int(p("jpeg_quality", 80).value)
        self.wheelbase = float(p("wheelbase", WHEELBASE_M, loose).value)
        self.watch_nodes = [str(n) for n in p("watch_nodes", DEFAULT_WATCH).value]
        control = str(p("control_node", "control_node").value)
        inference = str(p("inference_node", "inference_node").value)
        servo = str(p("servo_node", "servo_node").value)

        self._lock = threading.Lock()
        self._new_image = threading.Condition(self._lock)  # the stream's worker threads wait on it
        self._image: tuple[int, Image, float] | None = None  # (seq, msg, received_at)
        self._frame_cache: Frame | None = None
        self._seq = 0
        self._fps = 0.0
        self._action: tuple[PolicyAction, float] | None = None  # (policy/action, monotonic time received)
        self._pulses: tuple[ServoPulses, float] | None = None
        self._errors: deque[dict[str, Any]] = deque(maxlen=MAX_ERRORS)
        self._params: dict[str, Any] = {}  # polled: mode, max_speed_scale, model, calibration_mode
        self._answered: dict[str, float] = {}  # node -> monotonic time of its last parameter answer
        self._alive: dict[str, bool] = {name: False for name in self.watch_nodes}
        self._estop_pressed = False

        self.teleop_pub = self.create_publisher(Twist, "teleop/cmd_vel", 10)
        self.estop_pub = self.create_publisher(Bool, "estop", 10)
        self.raw_pub = self.create_publisher(String, "servo/raw", 10)
        self.create_subscription(Image, "camera/image_raw", self._on_image, NEWEST)
        self.create_subscription(String, "policy/action", self._on_action, 10)
        self.create_subscription(String, "servo/pulses", self._on_pulses, 10)
        self.create_subscription(Log, "/rosout", self._on_log, 50)
        self.mode_clients = {mode: self.create_client(Trigger, f"{control}/{'stop' if mode is Mode.STOPPED else mode.value}")
                             for mode in Mode}
        self.get_cal_client = self.create_client(Trigger, f"{servo}/get_calibration")
        self.names = {"control": control, "inference": inference, "servo": servo}
        self.param_clients = {key: AsyncParameterClient(self, name) for key, name in self.names.items()}
        self.create_timer(POLL_PERIOD_S, self._poll)
        self.create_timer(ESTOP_RESEND_S, self._resend_estop)

        self.server: Any = None
        self._server_thread: threading.Thread | None = None
        self.url: str | None = None
        if self.enabled:
            self._start_server()

    # -- the web server ------------------------------------------------------------------------
    def _start_server(self) -> None:
        import uvicorn

        from deepracer.device_console.app import ConsoleSettings, create_app
        from deepracer.device_console.auth import PasswordCheck, default_password_file
        from deepracer.device_console.model_store import ModelStore, default_models_dir
        from deepracer.paths import bundled_model

        pw_file = Path(self.password_file).expanduser() if self.password_file else default_password_file()
        try:
            password = PasswordCheck.from_file(pw_file)
        except ConfigError as err:
            # No password, no page: nothing on it may work without the car's password.
            self.get_logger().warning(f"web console off: {err} (set one: deepracer install-system, deepracer "
                                      "device-console password, or the password_file parameter)")
            return
        if not password.hashed:
            self.get_logger().warning(f"{pw_file} holds a plain-text password; store a hash "
                                      "(deepracer install-system) on a real car")
        store = ModelStore(Path(self.models_dir).expanduser() if self.models_dir else default_models_dir(),
                           bundled=bundled_model(), max_upload_bytes=int(self.max_upload_mb * 1024**2))
        https = bool(self.tls_cert and self.tls_key)
        settings = ConsoleSettings(password=password, models=store, secure_cookie=https,
                                   manual_max_speed_mps=self.manual_max_speed, max_steering_deg=self.max_steering_deg,
                                   stream_max_fps=self.stream_max_fps, jpeg_quality=self.jpeg_quality)
        config = uvicorn.Config(create_app(self, settings), host=self.host, port=self.port, log_level="warning",
                                access_log=False, ssl_certfile=self.tls_cert or None, ssl_keyfile=self.tls_key or None,
                                timeout_graceful_shutdown=1, lifespan="off")
        self.server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._serve, name="device_console_http", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 10.0
        while not self.server.started and self._server_thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            self.get_logger().error(f"web console could not listen on {self.host}:{self.port}")
            return
        port = self.server.servers[0].sockets[0].getsockname()[1] if self.server.servers else self.port
        self.port = int(port)  # port 0 = any free port (tests)
        shown = "localhost" if self.host in ("127.0.0.1", "::1") else self.host
        self.url = f"{'https' if https else 'http'}://{shown}:{self.port}/"
        self.get_logger().info(f"web console on {self.url} (models in {store.folder})")

    def _serve(self) -> None:
        try:
            self.server.run()
        except (OSError, SystemExit) as err:
            self.get_logger().error(f"web console stopped: {err}")

    def destroy_node(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=5.0)
            self.server = None
        super().destroy_node()

    # -- callbacks (executor thread): store, never compute ------------------------------------------
    def _on_image(self, msg: Image) -> None:
        now = time.time()
        with self._lock:
            if self._image is not None:
                dt = now - self._image[2]
                if dt > 0:
                    self._fps = 0.9 * self._fps + 0.1 / dt if self._fps else 1.0 / dt
            self._seq += 1
            self._image = (self._seq, msg, now)
            self._new_image.notify_all()

    def _on_action(self, msg: String) -> None:
        try:
            action = PolicyAction.from_json(msg.data)
        except MessageError:
            return
        with self._lock:
            self._action = (action, time.monotonic())

    def _on_pulses(self, msg: String) -> None:
        try:
            pulses = ServoPulses.from_json(msg.data)
        except MessageError:
            return
        with self._lock:
            self._pulses = (pulses, time.monotonic())

    def _on_log(self, msg: Log) -> None:
        # /rosout is global: keep this car's nodes (logger names are namespace.node, dots for slashes)
        prefix = self.get_namespace().strip("/").replace("/", ".")
        if msg.level < Log.WARN or msg.name.split(".")[-1] == self.get_name():
            return
        if prefix and not msg.name.startswith(prefix + "."):
            return
        with self._lock:
            self._errors.append({"level": {Log.WARN: "WARN", Log.ERROR: "ERROR", Log.FATAL: "FATAL"}.get(msg.level, str(msg.level)),
                                 "node": msg.name, "message": msg.msg,
                                 "time": msg.stamp.sec + msg.stamp.nanosec * 1e-9})

    def _poll(self) -> None:
        """Once a second: which nodes exist, and the parameters the page shows (answers arrive async)."""
        ns = self.get_namespace()
        present = {name for name, node_ns in self.get_node_names_and_namespaces() if node_ns == ns}  # this car's
        with self._lock:
            self._alive = {name: name in present for name in self.watch_nodes}
        wanted = {"control": ["mode", "max_speed_scale"], "inference": ["model"], "servo": ["calibration_mode", "backend"]}
        for key, names in wanted.items():
            client = self.param_clients[key]
            if not client.services_are_ready():
                continue
            future = client.get_parameters(names)
            future.add_done_callback(lambda f, key=key, names=names: self._got_params(key, names, f))

    def _got_params(self, key: str, names: list[str], future) -> None:
        try:
            values = future.result().values
        except Exception:
            return
        with self._lock:
            self._answered[key] = time.monotonic()
            for name, value in zip(names, values, strict=False):
                self._params[name] = _value(value)

    def _resend_estop(self) -> None:
        if self._estop_pressed:
            self.estop_pub.publish(Bool(data=True))

    # -- CarBackend (web server threads) ----------------------------------------------------------
    def _wait(self, future, what: str, timeout: float = CALL_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                future.cancel()
                raise BackendError(f"{what}: no answer within {timeout:g} s", unavailable=True)
            time.sleep(0.002)
        return future.result()

    def _ready(self, client, what: str) -> None:
        if not client.service_is_ready():
            raise BackendError(f"{what} is not running (no service {client.srv_name})", unavailable=True)

    def _set_params(self, key: str, params: list[Parameter], atomically: bool = False,
                    timeout: float = CALL_TIMEOUT_S) -> None:
        client = self.param_clients[key]
        name = self.names[key]
        if not client.services_are_ready():
            raise BackendError(f"{name} is not running", unavailable=True)
        if atomically:
            result = self._wait(client.set_parameters_atomically(params), f"{name}: set parameters", timeout).result
            results = [result]
        else:
            results = self._wait(client.set_parameters(params), f"{name}: set parameters", timeout).results
        for r in results:
            if not r.successful:
                raise BackendError(f"{name} refused: {r.reason}")
        with self._lock:
            for param in params:
                self._params[param.name] = param.value

    def status(self) -> CarStatus:
        now_m, now_w = time.monotonic(), time.time()
        with self._lock:
            params = dict(self._params)
            answered = dict(self._answered)
            alive = dict(self._alive)
            image = self._image
            fps = self._fps
            action = self._action
            pulses = self._pulses
            errors = list(self._errors)
        control_ok = now_m - answered.get("control", -1e9) < 3 * POLL_PERIOD_S
        camera: dict[str, Any] = {"fps": None, "last_frame_age_s": None, "width": None, "height": None}
        if image is not None:
            age = now_w - image[2]
            camera = {"fps": round(fps, 2) if age < CAMERA_STALE_S else 0.0, "last_frame_age_s": round(age, 3),
                      "width": image[1].width, "height": image[1].height, "encoding": image[1].encoding}
        pwm: dict[str, Any] = {"backend": params.get("backend")}
        if pulses is not None:
            pwm |= pulses[0].to_dict() | {"age_s": round(now_m - pulses[1], 3)}
        policy = None
        if action is not None:
            policy = action[0].to_dict() | {"age_s": round(now_m - action[1], 3)}
        system = system_snapshot()
        problems = [f"{name} is not running" for name, ok in alive.items() if not ok]
        if not control_ok and alive.get(self.names["control"], True):
            problems.append(f"{self.names['control']} does not answer: mode unknown")
        if image is None:
            problems.append("no camera frames yet")
        elif now_w - image[2] > CAMERA_STALE_S:
            problems.append(f"camera: no frame for {now_w - image[2]:.0f} s")
        if pwm.get("reason") == PulseReason.FAULT:
            problems.append(f"PWM output failed: {pwm.get('error')}")
        temp = system.get("cpu_temperature_c")
        if temp is not None and temp >= 80.0:
            problems.append(f"CPU is hot: {temp:.0f} °C")
        if self._estop_pressed:
            problems.append("e-stop pressed")
        return CarStatus(
            mode=str(params.get("mode", "unknown")) if control_ok else "unknown",
            max_speed_scale=params.get("max_speed_scale") if control_ok else None,
            estop_pressed=self._estop_pressed,
            active_model=params.get("model"),
            nodes=alive,
            camera=camera,
            pwm=pwm,
            system=system,
            errors=errors,
            policy=policy,
            calibration_mode=bool(params.get("calibration_mode", False)),
            problems=problems,
        )

    def mode(self) -> str:
        with self._lock:
            return str(self._params.get("mode", "unknown"))

    def set_mode(self, mode: Mode) -> str:
        client = self.mode_clients[mode]
        self._ready(client, self.names["control"])
        response = self._wait(client.call_async(Trigger.Request()), f"{client.srv_name}")
        if not response.success:
            raise BackendError(response.message)
        with self._lock:
            self._params["mode"] = mode.value
        return response.message

    def estop(self, pressed: bool) -> None:
        self._estop_pressed = bool(pressed)
        self.estop_pub.publish(Bool(data=bool(pressed)))
        if pressed:  # belt and braces: stopped mode too (no wait: the Bool alone already stops it)
            client = self.mode_clients[Mode.STOPPED]
            if client.service_is_ready():
                client.call_async(Trigger.Request())

    def set_max_speed(self, scale: float) -> None:
        self._set_params("control", [Parameter("max_speed_scale", value=float(scale))])

    def teleop(self, speed_mps: float, steering_deg: float) -> None:
        msg = Twist()
        msg.linear.x, msg.angular.z = action_to_twist(float(steering_deg), float(speed_mps), self.wheelbase)
        self.teleop_pub.publish(msg)

    def latest_frame(self) -> Frame | None:
        with self._lock:
            image = self._image
            cached = self._frame_cache
        if image is None:
            return None
        seq, msg, received = image
        if cached is not None and cached.seq == seq:
            return cached
        array, _encoding = from_image_msg(msg)
        frame = Frame(seq, array, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, received)
        with self._lock:
            self._frame_cache = frame
        return frame

    def wait_frame(self, after_seq: int, timeout: float) -> Frame | None:
        with self._new_image:
            if not self._new_image.wait_for(lambda: self._image is not None and self._image[0] > after_seq, timeout):
                return None
        return self.latest_frame()

    def policy_overlay(self) -> PolicyOverlay | None:
        with self._lock:
            action = self._action
        if action is None:
            return None
        return PolicyOverlay(float(action[0].steering_angle), float(action[0].speed), time.monotonic() - action[1])

    def active_model(self) -> str | None:
        with self._lock:
            return self._params.get("model")

    def load_model(self, path: str) -> None:
        self._set_params("inference", [Parameter("model", value=str(path))], timeout=MODEL_LOAD_TIMEOUT_S)

    def get_calibration(self) -> dict[str, Any]:
        self._ready(self.get_cal_client, self.names["servo"])
        response = self._wait(self.get_cal_client.call_async(Trigger.Request()), self.get_cal_client.srv_name)
        return json.loads(response.message)

    def set_calibration_mode(self, on: bool) -> None:
        self._set_params("servo", [Parameter("calibration_mode", value=bool(on))])

    def calibration_pulse(self, throttle_us: float, steering_us: float) -> None:
        with self._lock:
            on = bool(self._params.get("calibration_mode", False))
        if not on:
            raise BackendError("not in calibration mode: start the calibration first")
        self.raw_pub.publish(String(data=json.dumps({"throttle_us": float(throttle_us), "steering_us": float(steering_us)})))

    def save_calibration(self, calibration: dict[str, Any]) -> None:
        try:
            cal = Calibration.from_dict(calibration)
        except CalibrationError as err:
            raise BackendError(str(err)) from None
        params = [Parameter(f"calibration.{k}", value=float(v)) for k, v in flat_values(cal).items()]
        self._set_params("servo", params, atomically=True)


def _value(msg) -> Any:
    """rcl_interfaces/ParameterValue -> Python value."""
    from rclpy.parameter import parameter_value_to_python

    return parameter_value_to_python(msg)


def main(args: list[str] | None = None) -> None:
    try:
        spin_node(DeviceConsoleNode, args)
    except DeepRacerError as err:
        raise SystemExit(f"device_console_node: {err}") from None


if __name__ == "__main__":
    main()
