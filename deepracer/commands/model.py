"""`deepracer model info|check|predict|pack|import`: inspect, validate, run, pack and import model packages."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

AWS_IMPORT_PROFILE = "aws-sim"  # DeepRacer's simulated camera: what a model trained on AWS saw


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("info", help="metadata, action space, input and output of a package")
    p.add_argument("package", help="model package folder or .tar.gz")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p = sub.add_parser("check", help="validate a package; lists every problem, exits non-zero if any")
    p.add_argument("package", help="model package folder or .tar.gz")
    p = sub.add_parser("predict", help="run the model on one image file")
    p.add_argument("package", help="model package folder or .tar.gz")
    p.add_argument("--image", required=True, help="image file (any size; colour or gray)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run N times after 20 warm-up runs and report inference_ms p50/p99 (a quick latency check)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p = sub.add_parser("pack", help="check a package folder and pack it into a reproducible .tar.gz")
    p.add_argument("folder", help="model package folder")
    p.add_argument("-o", "--output", help="output .tar.gz (default: FOLDER.tar.gz beside the folder)")
    p.add_argument("--camera-profile", metavar="NAME_OR_FILE",
                   help="record the camera the model was trained for (aws-sim, car, or a profile file) in the "
                        "folder's model_metadata.json before packing; inference_node checks the car's camera against it")
    p = sub.add_parser("import", help="convert an AWS-trained TensorFlow model (console .tar.gz, DeepRacer-for-Cloud "
                       "model folder or model.pb) into a model package",
                       description="Convert an AWS-trained TensorFlow model into a model package (ONNX). Needs the "
                       "tf-import extra (tensorflow + tf2onnx) or $DEEPRACER_TF_PYTHON.")
    p.add_argument("source", metavar="FILE_OR_DIR",
                   help="the console's/DeepRacer on AWS's .tar.gz, a DeepRacer-for-Cloud model folder, or a .pb file")
    p.add_argument("--out", required=True, help="package folder to write (refused if it exists and is not empty)")
    p.add_argument("--checkpoint", type=int, default=None, metavar="N",
                   help="DeepRacer-for-Cloud: convert model_N.pb (default: the best checkpoint, else the newest)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    p.add_argument("--camera-profile", default=AWS_IMPORT_PROFILE, metavar="NAME_OR_FILE",
                   help="the camera the model was trained for, recorded in the package (default aws-sim: DeepRacer's "
                        "simulated camera, what AWS-trained models saw)")
    p.add_argument("--json", action="store_true", help="print the import report as JSON")


def run(args: argparse.Namespace) -> int:
    return {"info": _info, "check": _check, "predict": _predict, "pack": _pack,
            "import": _import}[args.model_command](args)


def _info(args: argparse.Namespace) -> int:
    from deepracer.model.package import load_model_package

    info = load_model_package(args.package).describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model        {info['name']}  ({info['source']})")
    print(f"algorithm    {info['training_algorithm']}, network {info['neural_network']}, "
          f"sensor {', '.join(info['sensor'])}, version {info['version']}")
    space = info["action_space"]
    if info["action_space_type"] == "discrete":
        print(f"actions      discrete, {len(space)}:")
        for a in space:
            print(f"  {a['index']:>3}  steering {a['steering_angle']:+7.2f} deg   speed {a['speed']:5.2f} m/s")
    else:
        st, sp = space["steering_angle"], space["speed"]
        print(f"actions      continuous: steering {st['low']:+.2f}..{st['high']:+.2f} deg, "
              f"speed {sp['low']:.2f}..{sp['high']:.2f} m/s")
    i = info["input"]
    print(f"input        {i['name']!r} {i['layout']} {i['tensor_shape']}: {i['width']}x{i['height']} "
          f"{i['color_order']}, frame stack {i['frame_stack']}, scale {i['scale']:.6g}, "
          f"mean {i['mean']}, std {i['std']}  ({info['input_from']})")
    if info.get("lidar_input"):
        li = info["lidar_input"]
        print(f"lidar        {li['name']!r} [1, {li['size']}]: {li['sensor']} observation of the scan")
    o = info["output"]
    print(f"output       {o['name']!r} {info['onnx_output']['shape']}: {o['kind']}, {o['num_outputs']} values")
    print(f"onnx         {info['onnx']} ({info['onnx_bytes'] / 1e6:.1f} MB)")
    cam = info.get("camera_profile")
    if cam is not None:
        fov = cam.get("field_of_view", {})
        print(f"camera       {cam['name']!r}: {cam['distortion']['model']} {cam['resolution']['width']}x"
              f"{cam['resolution']['height']} -> {cam['output']['width']}x{cam['output']['height']}, "
              f"HFOV {fov.get('horizontal_deg', float('nan')):.1f}°, mount {cam['mount']['height_m']:g} m up, "
              f"pitch {cam['mount']['pitch_deg']:g}°")
    else:
        print("camera       no camera profile recorded")
    return 0


def _check(args: argparse.Namespace) -> int:
    from deepracer.model.package import check_model_package

    problems = check_model_package(args.package)
    if not problems:
        print(f"{args.package}: OK")
        return 0
    print(f"{args.package}: {len(problems)} problem(s)", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def _read_image(path: Path):
    import cv2
    import numpy as np

    from deepracer.errors import ConfigError

    if not path.is_file():
        raise ConfigError("image file not found", path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConfigError("not an image OpenCV can read", path)
    if image.dtype != np.uint8:  # 16-bit PNG: keep the high byte
        image = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else image.astype(np.uint8)
    return image


def _predict(args: argparse.Namespace) -> int:
    from deepracer.model.policy import OnnxPolicy

    image = _read_image(Path(args.image))
    import numpy as np

    from deepracer.errors import ConfigError

    if args.repeat < 1:
        raise ConfigError(f"--repeat must be >= 1, not {args.repeat}")
    policy = OnnxPolicy(args.package, num_threads=args.threads)
    d = policy.predict(image)
    result = {
        "steering_angle": round(d.steering_angle, 4), "speed": round(d.speed, 4), "index": d.index,
        "inference_ms": round(d.inference_ms, 3), "raw": [round(float(x), 6) for x in d.raw],
        "model": policy.name, "image": args.image,
    }
    if args.repeat > 1:
        for _ in range(20):
            policy.predict(image)
        times = np.array([policy.predict(image).inference_ms for _ in range(args.repeat)])
        result |= {"runs": args.repeat, "threads": args.threads,
                   "inference_ms_p50": round(float(np.percentile(times, 50)), 3),
                   "inference_ms_p99": round(float(np.percentile(times, 99)), 3)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from deepracer.model.tarball import pack_model

    folder = Path(args.folder)
    out = Path(args.output) if args.output else folder.resolve().parent / f"{folder.resolve().name}.tar.gz"
    if args.camera_profile:
        from deepracer.camera_profile import resolve_profile
        from deepracer.model.package import record_camera_profile

        profile = resolve_profile(args.camera_profile)
        print(f"recorded camera profile {profile.name!r} in {record_camera_profile(folder, profile)}")
    pack_model(folder, out)
    print(f"packed {folder} -> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _import(args: argparse.Namespace) -> int:
    from deepracer.camera_profile import resolve_profile
    from deepracer.model.package import record_camera_profile
    from deepracer.model.tf_import import import_model

    profile = resolve_profile(args.camera_profile)  # a bad name or file fails before the conversion
    report = import_model(args.source, args.out, checkpoint=args.checkpoint, force=args.force)
    record_camera_profile(report["package"], profile)
    report["camera_profile"] = profile.name
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"imported {report['graph']} -> {report['package']}")
    print(f"  {report['training_algorithm']}, {report['action_space_type']}, sensor {report['sensor']}, "
          f"input {report['input_shape']} ({'0..255' if report['pixels_0_255'] else '0..1'} pixels), "
          f"policy {report['policy_width']} values")
    print(f"  ONNX vs TensorFlow on {report['check_frames']} frames: max abs diff "
          f"{report['max_abs_diff_vs_tensorflow']:.2g}  (tf2onnx {report['tf2onnx']}, "
          f"TensorFlow {report['tensorflow']}, {report['seconds']} s)")
    print(f"  camera profile {profile.name!r} recorded (evaluation renders through it; --camera-profile to change)")
    return 0
