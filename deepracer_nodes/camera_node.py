"""camera_node: frames from a V4L2 camera (or a file, folder, synthetic pattern) -> `camera/image_raw`.

Parameters (config/drive.yaml): device, capture_width, capture_height, fps, width, height,
encoding, frame_id, loop (files/folders), camera_info_file (a ROS camera calibration YAML from
`deepracer calibrate camera`; "" = the default file if there is one): published on
`camera/camera_info` scaled to the published size, with the image's stamp. The image is resized and converted at the source
(deepracer.hardware.camera); capture runs on its own thread so a blocking read never stalls the
executor, and an unplugged camera only produces a warning until it is back.
"""

from __future__ import annotations

import threading
from typing import Any

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from deepracer.hardware.camera import Camera, Frame, open_source
from deepracer.hardware.camera_calibration import CameraCalibrationError, CameraInfoFile
from deepracer_nodes.executors import spin_node
from deepracer_nodes.image_conversion import to_image_msg

DEFAULTS: dict[str, Any] = {
    "device": "/dev/deepracer/camera",
    "capture_width": 640,
    "capture_height": 480,
    "fps": 30.0,
    "width": 160,
    "height": 120,
    "encoding": "mono8",
    "frame_id": "camera",
    "loop": True,
    "camera_info_file": "",
}
QOS_DEPTH = 5


class CameraNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("camera_node", **kwargs)
        # dynamic typing: `device: 0` and `fps: 30` in a params file are as valid as "0" and 30.0
        loose = ParameterDescriptor(dynamic_typing=True)
        p = {name: self.declare_parameter(name, default, loose).value for name, default in DEFAULTS.items()}
        self.frame_id = str(p["frame_id"])
        source = open_source(p["device"], int(p["capture_width"]), int(p["capture_height"]), float(p["fps"]),
                             loop=bool(p["loop"]))
        self.camera = Camera(source, int(p["width"]), int(p["height"]), str(p["encoding"]), float(p["fps"]),
                             on_status=self.get_logger().warning)
        self.pub_image = self.create_publisher(Image, "camera/image_raw", QOS_DEPTH)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", QOS_DEPTH)
        self.camera_info, self.camera_info_error = self._load_camera_info(str(p["camera_info_file"]))
        self.frames_published = 0
        self._stop = threading.Event()
        # "publishing" is said once a frame went out: a camera that is not there yet logs
        # "no camera ... retrying" in between, never "publishing" before it has a frame
        # (set before the capture thread starts: its first frame reads it)
        self._started = f"{self.camera.width}x{self.camera.height} {self.camera.encoding} at {p['fps']} fps"
        self.get_logger().info(f"{source.description}: opening ({self._started})")
        self._thread = threading.Thread(target=self._capture_loop, name="camera_capture", daemon=True)
        self._thread.start()

    def _capture_loop(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.camera.read(self._stop)
            except Exception as err:  # a camera that gave up must not take the graph down
                self.get_logger().error(f"camera failed: {err}; retrying in 1 s")
                self.camera.close()
                self._stop.wait(1.0)
                continue
            if frame is None:
                if not self._stop.is_set():
                    self.get_logger().info(f"{self.camera.source.description}: end of stream")
                return
            try:
                self._publish(frame)
            except Exception as err:  # context shut down under us: stop quietly
                if not self._stop.is_set() and self.context.ok():
                    self.get_logger().error(f"publishing a frame failed: {err}")
                return

    def _publish(self, frame: Frame) -> None:
        stamp = Time(sec=frame.stamp_ns // 1_000_000_000, nanosec=frame.stamp_ns % 1_000_000_000)
        self.pub_image.publish(to_image_msg(frame.image, frame.encoding, stamp, self.frame_id))
        info = CameraInfo()
        info.header.stamp = stamp
        info.header.frame_id = self.frame_id
        info.height, info.width = frame.image.shape[:2]
        cal = self.camera_info
        if cal is not None:
            info.distortion_model = cal.distortion_model
            info.d, info.k, info.r, info.p = cal.d, cal.k, cal.r, cal.p
        self.pub_info.publish(info)  # without a calibration: K = 0, as ROS expects of an uncalibrated camera
        if self.frames_published == 0:
            self.get_logger().info(f"{self.camera.source.description}: publishing {self._started}")
        self.frames_published += 1

    def _load_camera_info(self, name: str) -> tuple[CameraInfoFile | None, str | None]:
        """The calibration scaled to the published size, or (None, why): a missing or corrupt file is
        logged once and the camera keeps publishing, uncalibrated."""
        from deepracer.hardware.camera_calibration import default_camera_info_path, load_camera_info

        path = name or str(default_camera_info_path())
        if not name and not default_camera_info_path().exists():
            self.get_logger().info(f"no camera calibration ({path}): camera_info is uncalibrated "
                                   "(run `deepracer calibrate camera`)")
            return None, None
        try:
            cal = load_camera_info(path).scaled(self.camera.width, self.camera.height)
        except CameraCalibrationError as err:
            detail = str(err) if err.path is not None else f"{path}: {err}"
            message = f"camera calibration not used, camera_info is uncalibrated: {detail}"
            self.get_logger().error(message)
            return None, message
        self.get_logger().info(f"camera calibration {path}: {cal.distortion_model}, fx {cal.intrinsics.fx:.1f} "
                               f"at {cal.width}x{cal.height}")
        return cal, None

    def destroy_node(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3.0)
        if self._thread.is_alive():
            # Still blocked in read() on a hung device: releasing the capture from this thread
            # would use OpenCV from two threads at once; the daemon thread ends with the process.
            self.get_logger().warning("camera capture thread did not stop within 3 s; leaving the device open")
        else:
            self.camera.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    spin_node(CameraNode, args)


if __name__ == "__main__":
    main()
