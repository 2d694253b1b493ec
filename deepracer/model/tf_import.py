"""`deepracer model import`: AWS-trained TensorFlow models -> a model package (ONNX).

Reads what DeepRacer users already have:
- the console's / DeepRacer on AWS's physical-car download: a .tar.gz holding
  `model_metadata.json` and `agent/model.pb` (a TensorFlow 1 frozen GraphDef);
- a DeepRacer-for-Cloud model folder (the S3 prefix `model/`): `model_metadata.json` and one
  frozen graph per kept checkpoint, `model_N.pb` (the best checkpoint of
  `deepracer_checkpoints.json` is taken unless `checkpoint` names one), or `model.pb`;
- a single `.pb` file with its `model_metadata.json` beside it.

The conversion (tf2onnx) runs in a child process of a Python that has TensorFlow: this one
with the `tf-import` extra, or the one $DEEPRACER_TF_PYTHON names. So TensorFlow is never
imported into the CLI process, and the car and the simulator never need it.

The package's input is described as DeepRacer feeds the graph (facts §14): NHWC
[1, 120, 160, 1], grayscale, OpenCV resize then BGR->GRAY; pixels raw 0..255 when the graph
divides by 255 itself (rl_coach's image embedder does), else scaled by 1/255. The ONNX output
is checked against TensorFlow's on seeded frames before anything is written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepracer.errors import ConfigError, ModelPackageError
from deepracer.model.metadata import InputSpec, ModelMetadata, OutputSpec
from deepracer.model.package import METADATA_FILE, ONNX_FILE, load_model_package
from deepracer.model.tarball import is_tarball, safe_extract

WORKER = Path(__file__).with_name("tf_convert_worker.py")
TF_PYTHON_ENV = "DEEPRACER_TF_PYTHON"
CAMERA_SENSORS = ("FRONT_FACING_CAMERA", "LEFT_CAMERA", "observation")
UNSUPPORTED_SENSORS = ("STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
DEFAULT_OPSET = 13  # old enough for the onnxruntime of any car image
MAX_ABS_DIFF = 1e-4  # ONNX vs TensorFlow on the same frames; float32 round-off is ~1e-6
CHECK_FRAMES = 8
WORKER_TIMEOUT_S = 600.0
_CHECKPOINT_PB = re.compile(r"^model_(\d+)\.pb$")


@dataclass(frozen=True)
class ImportSource:
    pb: Path  # the frozen graph
    metadata: Path  # its model_metadata.json
    kind: str  # "tarball", "folder" or "file"
    shown_pb: str  # how to name the graph to the user (inside a tarball: archive.tar.gz/agent/model.pb)
    shown_metadata: str


def tensorflow_python() -> str:
    """The interpreter that runs the conversion; ConfigError when none has TensorFlow."""
    override = os.environ.get(TF_PYTHON_ENV)
    if override:
        if not Path(override).exists():
            raise ConfigError(f"${TF_PYTHON_ENV} names {override}, which does not exist")
        return override
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf2onnx") is None:
        raise ConfigError("importing a TensorFlow model needs tensorflow and tf2onnx: "
                          "pip install 'deepracer[tf-import]' (make setup-tf), "
                          f"or set ${TF_PYTHON_ENV} to a Python that has them")
    return sys.executable


def _pb_candidates(folder: Path) -> list[Path]:
    """model.pb / model_N.pb files within two levels of `folder` (agent/model.pb, model/model_3.pb)."""
    found = []
    for pattern in ("*.pb", "*/*.pb", "*/*/*.pb"):
        found += [p for p in folder.glob(pattern)
                  if p.is_file() and (p.name == "model.pb" or _CHECKPOINT_PB.match(p.name))]
    return sorted(set(found))


def _best_checkpoint(folder: Path) -> int | None:
    """DeepRacer-for-Cloud's deepracer_checkpoints.json: best_checkpoint.name is `N_Step-...ckpt`."""
    path = folder / "deepracer_checkpoints.json"
    if not path.is_file():
        return None
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["best_checkpoint"]["name"]
        return int(str(name).split("_", 1)[0])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _choose_pb(folder: Path, checkpoint: int | None, shown: Path) -> Path:
    pbs = _pb_candidates(folder)
    if not pbs:
        raise ModelPackageError("no frozen graph found: expected agent/model.pb (console download), "
                                "model.pb or model_N.pb (DeepRacer-for-Cloud)", shown)
    by_ckpt = {int(m.group(1)): p for p in pbs if (m := _CHECKPOINT_PB.match(p.name))}
    if checkpoint is not None:
        if checkpoint not in by_ckpt:
            raise ModelPackageError(f"no model_{checkpoint}.pb (checkpoints here: {sorted(by_ckpt) or 'none'})", shown)
        return by_ckpt[checkpoint]
    plain = [p for p in pbs if p.name == "model.pb"]
    if plain:  # agent/model.pb before a stray model.pb deeper down
        return min(plain, key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    parents = {p.parent for p in by_ckpt.values()}
    best = _best_checkpoint(parents.pop()) if len(parents) == 1 else None
    if best is not None and best in by_ckpt:
        return by_ckpt[best]
    return by_ckpt[max(by_ckpt)]


def _find_metadata(pb: Path, root: Path, shown: Path) -> Path:
    """model_metadata.json beside the graph or in a folder above it (up to the source root)."""
    folder = pb.parent
    while True:
        if (folder / METADATA_FILE).is_file():
            return folder / METADATA_FILE
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    raise ModelPackageError(f"{METADATA_FILE} is missing (looked beside {pb.name} and above it)", shown)


def locate(source: Path, workdir: Path, checkpoint: int | None = None) -> ImportSource:
    """The frozen graph and metadata in a tarball, a folder or beside a .pb file."""
    if not source.exists():
        raise ModelPackageError("not found", source)
    if source.is_file() and source.suffix == ".pb":
        meta = source.parent / METADATA_FILE
        if not meta.is_file():
            raise ModelPackageError(f"{METADATA_FILE} is missing beside the frozen graph", source)
        return ImportSource(source, meta, "file", str(source), str(meta))
    if source.is_file():
        if not is_tarball(source):
            raise ModelPackageError("not a DeepRacer model: give the console's .tar.gz download, a "
                                    "DeepRacer-for-Cloud model folder or a model.pb file", source)
        root = safe_extract(source, workdir / "src")
        kind, shown_root = "tarball", source
    else:
        root, kind, shown_root = source, "folder", source
    pb = _choose_pb(root, checkpoint, shown_root)
    meta = _find_metadata(pb, root, shown_root)
    return ImportSource(pb, meta, kind, str(shown_root / pb.relative_to(root)),
                        str(shown_root / meta.relative_to(root)))


def run_worker(pb: Path, onnx_out: Path, frames: int = CHECK_FRAMES, opset: int = DEFAULT_OPSET,
               shown_pb: str | None = None) -> dict[str, Any]:
    """Convert in a child process; returns its answer (ok or not)."""
    python = tensorflow_python()
    request = {"pb": str(pb), "onnx": str(onnx_out), "frames": frames, "opset": opset, "seed": 0}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONNOUSERSITE="1")
    try:
        proc = subprocess.run([python, str(WORKER)], input=json.dumps(request), capture_output=True, text=True,
                              timeout=WORKER_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise ModelPackageError(f"the TensorFlow conversion took more than {WORKER_TIMEOUT_S:.0f} s",
                                shown_pb or pb) from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise ModelPackageError(f"the TensorFlow conversion failed (exit {proc.returncode}): {tail[-600:]}",
                                shown_pb or pb)
    return json.loads(lines[-1])


def _check_sensors(meta: ModelMetadata, src: ImportSource) -> None:
    bad = [s for s in meta.sensor if s in UNSUPPORTED_SENSORS]
    if bad:
        raise ModelPackageError(f"sensor {bad[0]} is not supported: only a single camera "
                                f"({', '.join(CAMERA_SENSORS)}) can be imported", src.shown_metadata)


def _check_against_metadata(meta: ModelMetadata, answer: dict[str, Any], src: ImportSource) -> None:
    inp, out = answer["input"], answer["output"]
    if inp["sensor"] not in CAMERA_SENSORS:
        raise ModelPackageError(f"input tensor {inp['name']} is a {inp['sensor']} input: only a single camera "
                                f"({', '.join(CAMERA_SENSORS)}) can be imported", src.shown_pb)
    shape = inp["shape"]
    if shape[-1] != 1:
        raise ModelPackageError(f"input tensor {inp['name']} has shape {shape}: a grayscale camera input "
                                "[N, H, W, 1] is needed", src.shown_pb)
    width = out["width"]
    if meta.action_space_type == "discrete" and width != len(meta.actions):
        raise ModelPackageError(
            f"action_space has {len(meta.actions)} discrete actions but the policy tensor {out['name']} of "
            f"{src.shown_pb} gives {width} values", src.shown_metadata)
    if meta.action_space_type == "continuous" and width != 2:
        raise ModelPackageError(
            f"action_space_type continuous needs 2 policy values (steering, speed) but the policy tensor "
            f"{out['name']} of {src.shown_pb} gives {width}", src.shown_metadata)


def import_model(source: str | Path, out: str | Path, checkpoint: int | None = None, force: bool = False,
                 opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """Convert `source` into the package folder `out`; returns a JSON-ready report.

    Nothing is written to `out` unless every check passed (a refused model leaves it as it was).
    """
    source, out = Path(source), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ConfigError(f"{out} exists and is not empty (use --force to replace it)")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="deepracer-import-") as tmp:
        work = Path(tmp)
        src = locate(source, work, checkpoint)
        try:
            meta = ModelMetadata.from_file(src.metadata)
        except ModelPackageError as err:
            raise ModelPackageError(str(err).replace(str(src.metadata), src.shown_metadata)) from None
        _check_sensors(meta, src)  # before the (slow) conversion
        stage = work / "package"
        stage.mkdir()
        answer = run_worker(src.pb, stage / ONNX_FILE, opset=opset, shown_pb=src.shown_pb)
        if not answer.get("ok"):
            found = answer.get("inputs_found")
            hint = f" (placeholders: {', '.join(i['name'] for i in found) or 'none'})" if found else ""
            raise ModelPackageError(answer["message"] + hint, src.shown_pb)
        _check_against_metadata(meta, answer, src)
        if not answer["max_abs_diff"] <= MAX_ABS_DIFF:
            raise ModelPackageError(f"the ONNX model differs from TensorFlow by {answer['max_abs_diff']:.3g} "
                                    f"(more than {MAX_ABS_DIFF}) on the same frames", src.shown_pb)
        inp, outp = answer["input"], answer["output"]
        _, h, w, c = inp["shape"]
        meta.input = InputSpec(layout="NHWC", height=h, width=w, channels=c, color_order="gray",
                               scale=1.0 if answer["rescales"] else 1.0 / 255.0, mean=(0.0,), std=(1.0,),
                               frame_stack=1, name=inp["onnx_name"])
        kind = "probabilities" if meta.action_space_type == "discrete" else "continuous"
        meta.output = OutputSpec(kind=kind, name=outp["onnx_name"])
        data = meta.to_dict()
        data["onnx"]["converted_from"] = {
            "source": str(source), "graph": src.shown_pb, "input_tensor": inp["name"], "policy_tensor": outp["name"],
            "pixels": "0..255 (the graph divides by 255)" if answer["rescales"] else "0..1 (scaled by 1/255)",
            "converter": f"tf2onnx {answer['tf2onnx']}", "tensorflow": answer["tensorflow"], "opset": answer["opset"],
            "max_abs_diff_vs_tensorflow": answer["max_abs_diff"], "check_frames": answer["frames"],
        }
        (stage / METADATA_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        load_model_package(stage)  # exactly what `deepracer model check` runs
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(stage), str(out))
    return {
        "package": str(out), "source": str(source), "source_kind": src.kind, "graph": src.shown_pb,
        "metadata": src.shown_metadata, "action_space_type": meta.action_space_type,
        "training_algorithm": meta.training_algorithm, "sensor": inp["sensor"],
        "input_tensor": inp["name"], "input_shape": inp["shape"], "policy_tensor": outp["name"],
        "policy_width": outp["width"], "pixels_0_255": bool(answer["rescales"]),
        "max_abs_diff_vs_tensorflow": answer["max_abs_diff"], "check_frames": answer["frames"],
        "tensorflow": answer["tensorflow"], "tf2onnx": answer["tf2onnx"], "opset": answer["opset"],
        "seconds": round(time.monotonic() - start, 2),
    }
