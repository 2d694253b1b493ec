"""`deepracer camera`: camera profiles (the lens a model is trained for), and `deepracer calibrate camera`.

    deepracer camera list [--json]                             # the built-in profiles
    deepracer camera board [--board 9x6] [--square-mm 25] --out board.png   # a chessboard to print
    deepracer camera show NAME_OR_FILE [--json]                # a profile with its derived field of view
    deepracer camera profile --from-calibration FILE --height-m H --pitch-deg P [--forward-m X] --out PROFILE
    deepracer camera check --camera-profile NAME_OR_FILE --camera-info FILE   # the inference node's check, offline

`deepracer calibrate camera` (registered under `calibrate`, implemented here):

    deepracer calibrate camera                                  # live, from the running camera_node
    deepracer calibrate camera --images DIR                     # from a folder of board pictures
    deepracer calibrate camera --device /dev/video0             # straight from a camera (node stopped)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

WIDE_ANGLE_DEG = 100.0  # beyond this a pinhole model with 2-3 radial terms rarely fits a lens well

CALIBRATE_EPILOG = """\
Print a chessboard (default 9x6 inner corners = 10x7 squares of 25 mm; measure a square after
printing and pass --square-mm), hold it flat in front of the camera and move it: near and far,
left, right, top, bottom, tilted. A view is taken when the board is found and the view differs
enough from the ones already taken. The result is a ROS camera calibration file (camera_info YAML);
camera_node publishes it on camera/camera_info. See docs/camera-calibration.md."""


def _size(text: str) -> tuple[int, int]:
    from deepracer.hardware.camera_calibration import parse_board_size

    try:
        return parse_board_size(text)
    except Exception as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# -- deepracer calibrate camera ---------------------------------------------------------------------


def add_calibrate_arguments(p: argparse.ArgumentParser) -> None:
    from deepracer.hardware import camera_calibration as cc

    p.description = "Calibrate the camera with a printed chessboard; writes a ROS camera_info YAML."
    p.epilog = CALIBRATE_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", metavar="DIR", help="calibrate from the images in DIR (every image should show the board)")
    src.add_argument("--topic", default="camera/image_raw",
                     help="live: the image topic of the running camera_node (default camera/image_raw)")
    src.add_argument("--device", help="live, without ROS: a V4L2 device (stop camera_node first), video file or folder")
    p.add_argument("--capture-size", type=_size, default=(640, 480), metavar="WxH",
                   help="--device: the capture size (default 640x480, camera_node's capture size)")
    p.add_argument("--board", type=_size, default=(cc.DEFAULT_COLS, cc.DEFAULT_ROWS), metavar="COLSxROWS",
                   help=f"inner corners of the chessboard (default {cc.DEFAULT_COLS}x{cc.DEFAULT_ROWS})")
    p.add_argument("--square-mm", type=float, default=cc.DEFAULT_SQUARE_M * 1000,
                   help=f"side of one square as printed, mm (default {cc.DEFAULT_SQUARE_M * 1000:g})")
    p.add_argument("--board-type", choices=[k.value for k in cc.BoardKind], default=cc.BoardKind.CHESSBOARD.value,
                   help="chessboard (the whole board must be in view) or charuco (markers in the white squares: "
                        "part of the board is enough, e.g. at a fisheye's edges); print it with "
                        "`deepracer camera board --board-type charuco`. Default chessboard")
    p.add_argument("--model", choices=[m.value for m in cc.LensModel], default=cc.LensModel.PINHOLE.value,
                   help="pinhole (plumb_bob distortion; lenses up to ~100°) or fisheye (equidistant; wide-angle "
                        "lenses like the DeepRacer's 120°). Default pinhole")
    p.add_argument("--k-coefficients", type=int, default=2, choices=(2, 3),
                   help="pinhole: radial coefficients to fit (default 2, k3 = 0, as ROS's camera_calibration)")
    p.add_argument("--views", type=int, default=cc.DEFAULT_LIVE_VIEWS, help=f"live: views to take (default {cc.DEFAULT_LIVE_VIEWS})")
    p.add_argument("--min-views", type=int, default=cc.DEFAULT_MIN_VIEWS,
                   help=f"refuse to calibrate from fewer views (default {cc.DEFAULT_MIN_VIEWS})")
    p.add_argument("--max-error", type=float, default=cc.DEFAULT_MAX_ERROR_PX, metavar="PX",
                   help=f"refuse a result whose RMS reprojection error is above this (default {cc.DEFAULT_MAX_ERROR_PX:g} px)")
    p.add_argument("--max-motion", type=float, default=cc.DEFAULT_MAX_MOTION_PX, metavar="PX",
                   help="live: take a view only when the board moved less than this since the previous frame "
                        f"(mean corner motion per 640 px of width; default {cc.DEFAULT_MAX_MOTION_PX:g}; 0 = off)")
    p.add_argument("--timeout", type=float, default=0.0, metavar="S",
                   help="live: stop after S seconds and calibrate with the views taken (default: until --views)")
    p.add_argument("--camera-name", default=cc.DEFAULT_CAMERA_NAME, help="camera_name in the file (default camera)")
    p.add_argument("--save-views", metavar="DIR", help="live: save the views taken as PNGs (calibrate again with --images)")
    p.add_argument("--out", metavar="FILE", help="camera_info YAML to write (default: $DEEPRACER_CAMERA_INFO, "
                   "/var/lib/deepracer/camera_info.yaml for the service user, else ~/.config/deepracer/camera_info.yaml)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run_calibrate(args: argparse.Namespace) -> int:
    import cv2

    from deepracer.hardware import camera_calibration as cc

    board = cc.Board(args.board[0], args.board[1], args.square_mm / 1000.0, cc.BoardKind(args.board_type))
    model = cc.LensModel(args.model)
    out = Path(args.out).expanduser() if args.out else cc.default_camera_info_path()
    if args.images:
        files = cc.image_files(Path(args.images))
        _say(args, f"looking for the {board.describe()} board in {len(files)} image(s) in {args.images}")
        views, missing, (w, h) = cc.views_from_images(files, board)
        for name in missing:
            _say(args, f"  {name}: board not found (skipped)")
    else:
        capture = cc.LiveCapture(board, target_views=max(args.views, args.min_views), max_motion_px=args.max_motion)
        _live(args, capture)
        views, missing = capture.views, []
        if capture.size is None:
            raise cc.CameraCalibrationError("no frames arrived from the camera")
        w, h = capture.size
        if args.save_views:
            folder = Path(args.save_views)
            folder.mkdir(parents=True, exist_ok=True)
            for view, image in zip(capture.views, capture.images, strict=True):
                cv2.imwrite(str(folder / (view.name.replace(" ", "_") + ".png")), image)
            _say(args, f"saved {len(capture.images)} view(s) in {folder}")
    result = cc.calibrate(views, w, h, board, model, min_views=args.min_views, max_error_px=args.max_error,
                          camera_name=args.camera_name, k_coefficients=args.k_coefficients, not_found=missing)
    cc.save_camera_info(result.info, out)
    summary = result.summary() | {"file": str(out), "not_found": missing}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    i = result.info.intrinsics
    fov = summary["field_of_view"]
    print(f"calibrated {len(views)} views of {w}x{h} ({model.value}, {i.distortion_model.value}):")
    print(f"  fx {i.fx:.2f}  fy {i.fy:.2f}  cx {i.cx:.2f}  cy {i.cy:.2f}  distortion "
          f"[{', '.join(f'{c:.5f}' for c in i.coefficients)}]")
    if fov is not None:
        print(f"  field of view: horizontal {fov['horizontal_deg']:.1f}°, vertical {fov['vertical_deg']:.1f}°, "
              f"diagonal {fov['diagonal_deg']:.1f}°")
    else:
        print(f"  field of view undefined: {summary['field_of_view_problem']}")
    worst = ", ".join(f"{v['view']} {v['error_px']:.2f} px" for v in summary["worst_views"])
    print(f"  reprojection error {result.rms_px:.3f} px RMS (worst views: {worst})")
    if model is cc.LensModel.PINHOLE and (fov is None or fov["horizontal_deg"] > WIDE_ANGLE_DEG):
        print(f"  note: a {fov['horizontal_deg']:.0f}° lens; if the error is high or the image edges look wrong, "
              "calibrate again with --model fisheye")
    print(f"wrote {out}")
    print(f"next: deepracer camera profile --from-calibration {out} --height-m H --pitch-deg P --out my-car.yaml")
    return 0


def _say(args: argparse.Namespace, text: str) -> None:
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


def _live(args: argparse.Namespace, capture) -> None:
    """Offer frames to `capture` until it has its views, --timeout, or Ctrl-C."""
    import time

    start = time.monotonic()
    last_status = start
    frames, close, where = _frame_source(args)
    _say(args, f"capturing from {where}: move the {capture.board.describe()} board around; "
               f"{capture.target_views} views to take (Ctrl-C to stop early)")
    try:
        for frame in frames:
            if capture.size is None and frame.shape[1] < 320:
                _say(args, f"note: {frame.shape[1]}x{frame.shape[0]} frames are small for a precise calibration; "
                           "run camera_node with width:=640 height:=480 while calibrating (the result is scaled "
                           "to the published size anyway)")
            kept, why = capture.offer(frame)
            now = time.monotonic()
            if kept:
                cov = capture.selector.coverage()
                x, y, size, skew = capture.selector.kept[-1]
                _say(args, f"view {len(capture.views)}/{capture.target_views} taken (x {x:.2f} y {y:.2f} size {size:.2f} "
                           f"skew {skew:.2f}); coverage x {cov['x']:.2f} y {cov['y']:.2f} size {cov['size']:.2f} "
                           f"skew {cov['skew']:.2f}")
            elif now - last_status > 3.0:
                _say(args, f"  {capture.frames} frames: {why} (board not found in {capture.not_found}, moving in "
                           f"{capture.moving}, too close to a taken view {capture.too_close})")
                last_status = now
            if capture.done or (args.timeout and now - start > args.timeout):
                break
    except KeyboardInterrupt:
        _say(args, f"stopped: calibrating with the {len(capture.views)} view(s) taken")
    finally:
        close()


def _frame_source(args: argparse.Namespace):
    """(frame iterator, close(), description) for --device or the ROS topic."""
    if args.device:
        from deepracer.hardware.camera import Camera, open_source

        w, h = args.capture_size
        source = open_source(args.device, w, h, loop=False)
        camera = Camera(source, w, h, "mono8", max_attempts=5)

        def frames():
            while True:
                frame = camera.read()
                if frame is None:
                    return
                # keep the capture size: a device that ignores it is calibrated at what it delivers
                yield frame.image

        return frames(), camera.close, source.description

    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from deepracer_nodes.camera_calibration_capture import CameraFrames

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C stays a KeyboardInterrupt
    grabber = CameraFrames(args.topic)

    def close() -> None:
        grabber.close()
        rclpy.try_shutdown()

    return grabber.frames(), close, grabber.resolved_topic


# -- deepracer camera ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "\n".join(__doc__.splitlines()[2:])
    sub = parser.add_subparsers(dest="camera_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list", help="the built-in camera profiles")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("board", help="write a chessboard PNG that prints at its true size")
    p.add_argument("--board", type=_size, default=None, metavar="COLSxROWS", help="inner corners (default 9x6)")
    p.add_argument("--square-mm", type=float, default=None, help="side of one square, mm (default 25)")
    p.add_argument("--board-type", choices=("chessboard", "charuco"), default="chessboard",
                   help="a plain chessboard, or ChArUco (ArUco markers in the white squares)")
    p.add_argument("--dpi", type=int, default=300, help="resolution stored in the PNG (default 300)")
    p.add_argument("--out", required=True, metavar="PNG")
    p = sub.add_parser("show", help="a camera profile (built-in name or file) with its derived field of view")
    p.add_argument("profile", metavar="NAME_OR_FILE")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("profile", help="make a camera profile from a camera calibration and the camera's mount")
    p.add_argument("--from-calibration", required=True, metavar="FILE", help="camera_info YAML (deepracer calibrate camera)")
    p.add_argument("--height-m", type=float, required=True, help="height of the lens above the ground, m")
    p.add_argument("--pitch-deg", type=float, required=True, help="camera pitch, degrees nose-down (DeepRacer: 15)")
    p.add_argument("--forward-m", type=float, default=None,
                   help="lens ahead of the rear axle, m (default: the simulator's camera, 0.12)")
    p.add_argument("--output-size", type=_size, default=None, metavar="WxH",
                   help="the image size the policy sees (default 160 wide at the calibration's aspect ratio)")
    p.add_argument("--name", help="profile name (default: the file name of --out)")
    p.add_argument("--out", required=True, metavar="PROFILE", help="profile file to write (.yaml, or .json)")
    p = sub.add_parser("check", help="does a camera (its camera_info YAML) match a profile? exit 1 if not")
    p.add_argument("--camera-profile", required=True, metavar="NAME_OR_FILE")
    p.add_argument("--camera-info", required=True, metavar="FILE")


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "board": _board, "show": _show, "profile": _profile,
            "check": _check}[args.camera_command](args)


def _board(args: argparse.Namespace) -> int:
    from deepracer.hardware import camera_calibration as cc

    cols, rows = args.board or (cc.DEFAULT_COLS, cc.DEFAULT_ROWS)
    board = cc.Board(cols, rows, (args.square_mm or cc.DEFAULT_SQUARE_M * 1000) / 1000.0, cc.BoardKind(args.board_type))
    if not 72 <= args.dpi <= 2400:
        raise cc.CameraCalibrationError(f"--dpi must be between 72 and 2400, not {args.dpi}")
    path = cc.write_board_png(board, args.out, args.dpi)
    w_mm, h_mm = (cols + 2) * board.square_m * 1000, (rows + 2) * board.square_m * 1000
    fits = " (fits A4 and Letter landscape)" if w_mm <= 279 and h_mm <= 210 else ""
    print(f"wrote {path}: {board.describe()}, {w_mm:g} x {h_mm:g} mm with the margin{fits}. Print it at 100 % "
          "(actual size, no fit-to-page), glue it flat on card, and measure a square: pass that as --square-mm")
    return 0


def _list(args: argparse.Namespace) -> int:
    from deepracer.camera_profile import BUILTIN_PROFILES

    if args.json:
        print(json.dumps({name: p.to_dict() for name, p in BUILTIN_PROFILES.items()}, indent=2))
        return 0
    for name, p in BUILTIN_PROFILES.items():
        print(f"{name:<10} {_one_line(p)}")
        print(f"{'':<10} {p.description}")
    return 0


def _one_line(p) -> str:
    i, fov = p.intrinsics, p.field_of_view
    return (f"{i.distortion_model.projection} ({i.distortion_model.value}) {i.width}x{i.height} -> "
            f"{p.output_width}x{p.output_height}, HFOV {fov.horizontal_deg:.1f}° VFOV {fov.vertical_deg:.1f}°, "
            f"mount {p.mount.forward_m:.3f} m ahead, {p.mount.height_m:.3f} m up, pitch {p.mount.pitch_deg:g}°")


def _show(args: argparse.Namespace) -> int:
    from deepracer.camera_profile import resolve_profile

    p = resolve_profile(args.profile)
    if args.json:
        print(json.dumps(p.to_dict(), indent=2))
        return 0
    i = p.intrinsics
    print(f"{p.name}: {_one_line(p)}")
    if p.description:
        print(f"  {p.description}")
    print(f"  intrinsics at {i.width}x{i.height}: fx {i.fx:.3f} fy {i.fy:.3f} cx {i.cx:.3f} cy {i.cy:.3f}; "
          f"distortion {list(i.coefficients)}")
    o = p.output_intrinsics
    print(f"  at the policy's {o.width}x{o.height}: fx {o.fx:.3f} fy {o.fy:.3f} cx {o.cx:.3f} cy {o.cy:.3f}")
    print(f"  diagonal field of view {p.field_of_view.diagonal_deg:.1f}°" + (f"; source {p.source}" if p.source else ""))
    return 0


def _profile(args: argparse.Namespace) -> int:
    from deepracer.camera_profile import CameraProfile, Mount, save_profile
    from deepracer.hardware.camera_calibration import load_camera_info
    from deepracer.model.metadata import InputSpec

    info = load_camera_info(args.from_calibration)
    i = info.intrinsics
    if args.output_size is not None:
        ow, oh = args.output_size
    else:
        ow = InputSpec().width
        oh = round(ow * i.height / i.width)
    out = Path(args.out)
    forward = Mount().forward_m if args.forward_m is None else args.forward_m
    profile = CameraProfile(
        name=args.name or out.name.split(".")[0], intrinsics=i, output_width=ow, output_height=oh,
        mount=Mount(forward_m=forward, height_m=args.height_m, pitch_deg=args.pitch_deg),
        description=f"calibrated camera {info.camera_name!r}", source=str(Path(args.from_calibration).resolve()),
    )
    save_profile(profile, out)
    print(f"wrote {out}: {_one_line(profile)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from deepracer.camera_profile import camera_check, resolve_profile
    from deepracer.hardware.camera_calibration import load_camera_info

    profile = resolve_profile(args.camera_profile)
    info = load_camera_info(args.camera_info)
    result = camera_check(profile, info.width, info.height, info.k, info.distortion_model, info.d)
    fov = result.observed_fov
    if result.ok and fov is not None:
        print(f"{args.camera_info}: matches the camera profile {profile.name!r} "
              f"(HFOV {fov.horizontal_deg:.1f}° vs {profile.field_of_view.horizontal_deg:.1f}°)")
    else:
        print(f"{args.camera_info}: does not match the camera profile {profile.name!r}: " + "; ".join(result.mismatches))
    return 0 if result.ok else 1
