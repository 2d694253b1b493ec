"""Converts one DeepRacer TensorFlow frozen graph to ONNX; run as a script by `tf_import`.

Self-contained on purpose (TensorFlow, tf2onnx and numpy only, no `deepracer` import), so
it runs in any interpreter that has TensorFlow: the project's venv with the `tf-import`
extra, or another one named by $DEEPRACER_TF_PYTHON. One JSON request on stdin, one JSON
answer on stdout:

request:  {"pb": path, "onnx": out path, "opset": 13, "frames": K, "seed": 0}
answer:   {"ok": true, "input": {...}, "output": {...}, "inputs_found": [...],
           "rescales": bool, "max_abs_diff": float, "tensorflow": ver, "tf2onnx": ver}
   or     {"ok": false, "kind": "...", "message": "...", ...}

DeepRacer's tensor names (facts §14): inputs `main_level/agent/{HEAD}/online/network_0/
{SENSOR}/{SENSOR}`, output `main_level/agent/{HEAD}/online/network_1/ppo_head_0/policy`,
HEAD `main` (clipped PPO) or `policy` (SAC).
"""

from __future__ import annotations

import json
import os
import re
import sys

INPUT_RE = re.compile(r"^main_level/agent/(main|policy)/online/network_0/([A-Za-z_]+)/\2$")
OUTPUT_FMT = "main_level/agent/{head}/online/network_1/ppo_head_0/policy"
OUTPUT_RE = re.compile(r"^main_level/agent/(main|policy)/online/network_1/[A-Za-z0-9_]+/policy$")


def _answer(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _fail(kind: str, message: str, **extra) -> int:
    _answer({"ok": False, "kind": kind, "message": message, **extra})
    return 0


def _shape(node) -> list[int | None] | None:
    if "shape" not in node.attr:
        return None
    dims = node.attr["shape"].shape
    if dims.unknown_rank:
        return None
    return [d.size if d.size >= 0 else None for d in dims.dim]


def _rescales(graph_def, input_name: str) -> bool:
    """True when the graph divides the input by 255 (or multiplies by 1/255) itself, as
    rl_coach's image embedder does; then the car feeds raw 0..255 pixels."""
    import numpy as np
    from tensorflow.python.framework import tensor_util

    consts = {n.name: n for n in graph_def.node if n.op == "Const"}
    identities = {n.name: n.input[0] for n in graph_def.node if n.op == "Identity" and n.input}

    def const_value(name: str):
        name = name.split(":")[0].lstrip("^")
        while name in identities:
            name = identities[name].split(":")[0]
        node = consts.get(name)
        if node is None:
            return None
        return np.asarray(tensor_util.MakeNdarray(node.attr["value"].tensor), dtype=np.float64)

    frontier, seen = {input_name}, set()
    for _ in range(4):  # the rescale sits within a few ops of the placeholder (casts, identities)
        nxt = set()
        for n in graph_def.node:
            ins = [i.split(":")[0] for i in n.input]
            if not frontier.intersection(ins) or n.name in seen:
                continue
            seen.add(n.name)
            others = [const_value(i) for i in n.input if i.split(":")[0] not in frontier]
            vals = [v for v in others if v is not None and v.size == 1]
            if n.op in ("RealDiv", "Div", "TrueDiv") and vals and abs(float(vals[0].ravel()[0]) - 255.0) < 1e-3:
                return True
            if n.op == "Mul" and vals and abs(float(vals[0].ravel()[0]) - 1 / 255.0) < 1e-6:
                return True
            if n.op in ("Identity", "Cast", "Sub", "AddV2", "Add"):
                nxt.add(n.name)
        frontier = nxt
    return False


def main() -> int:
    request = json.loads(sys.stdin.read())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    graph_def = tf.compat.v1.GraphDef()
    try:
        with open(request["pb"], "rb") as f:
            graph_def.ParseFromString(f.read())
    except Exception as err:  # protobuf's DecodeError, OSError
        return _fail("not_a_graph", f"not a TensorFlow GraphDef (frozen graph): {str(err)[:200]}")
    if not graph_def.node:
        return _fail("not_a_graph", "not a TensorFlow GraphDef (frozen graph): it has no nodes")
    placeholders = [n for n in graph_def.node if n.op == "Placeholder"]
    found = [{"name": n.name, "shape": _shape(n), "dtype": int(n.attr["dtype"].type)} for n in placeholders]
    matches = [(n, INPUT_RE.match(n.name)) for n in placeholders]
    matches = [(n, m) for n, m in matches if m]
    if not matches:
        return _fail("no_input", "no DeepRacer observation tensor: expected a placeholder named "
                     "main_level/agent/main/online/network_0/<SENSOR>/<SENSOR> (SENSOR e.g. FRONT_FACING_CAMERA "
                     "or observation)", inputs_found=found)
    if len(matches) > 1:
        return _fail("many_inputs", "the graph has several sensor inputs "
                     f"({', '.join(n.name for n, _ in matches)}); only one camera input is supported",
                     inputs_found=found)
    node, m = matches[0]
    head, sensor = m.group(1), m.group(2)
    names = {n.name for n in graph_def.node}
    out_name = OUTPUT_FMT.format(head=head)
    if out_name not in names:
        alt = sorted(n for n in names if OUTPUT_RE.match(n) and n.startswith(f"main_level/agent/{head}/"))
        if not alt:
            return _fail("no_output", f"no DeepRacer policy tensor: expected {out_name}", inputs_found=found,
                         input={"name": node.name, "sensor": sensor, "head": head})
        out_name = alt[0]
    shape = _shape(node)
    rescales = _rescales(graph_def, node.name)
    in_info = {"name": node.name, "sensor": sensor, "head": head, "shape": shape,
               "dtype": tf.dtypes.as_dtype(node.attr["dtype"].type).name}

    # TensorFlow's answer on seeded frames: the reference the ONNX model must reproduce.
    if shape is None or len(shape) != 4 or any(d is None for d in shape[1:]):
        return _fail("bad_input", f"input {node.name} has shape {shape}; a [N, H, W, C] image tensor is needed",
                     input=in_info)
    rng = np.random.default_rng(int(request.get("seed", 0)))
    k = max(1, int(request.get("frames", 4)))
    frames = rng.integers(0, 256, (k, *shape[1:])).astype(np.float32)
    if not rescales:
        frames /= 255.0
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    try:
        with tf.compat.v1.Session(graph=graph) as sess:
            tf_out = np.stack([sess.run(out_name + ":0", {node.name + ":0": f[None]}) for f in frames])
    except Exception as err:
        return _fail("tf_run", f"TensorFlow cannot run the graph on a {[1, *shape[1:]]} input: {str(err)[:300]}",
                     input=in_info)
    out_info = {"name": out_name, "width": int(np.prod(tf_out.shape[2:])) if tf_out.ndim > 2 else 1,
                "shape": list(tf_out.shape[1:])}

    try:
        tf2onnx.convert.from_graph_def(
            graph_def, input_names=[node.name + ":0"], output_names=[out_name + ":0"],
            opset=int(request.get("opset", 13)), output_path=request["onnx"])
    except Exception as err:
        return _fail("convert", f"tf2onnx cannot convert the graph: {str(err)[:300]}", input=in_info)

    import onnxruntime as ort

    sess = ort.InferenceSession(request["onnx"], providers=["CPUExecutionProvider"])
    onnx_in = sess.get_inputs()[0].name
    onnx_out = sess.get_outputs()[0].name
    onnx_out_vals = np.stack([sess.run([onnx_out], {onnx_in: f[None]})[0] for f in frames])
    diff = float(np.max(np.abs(onnx_out_vals.astype(np.float64) - tf_out.astype(np.float64))))
    _answer({
        "ok": True, "input": in_info | {"onnx_name": onnx_in}, "output": out_info | {"onnx_name": onnx_out},
        "inputs_found": found, "rescales": rescales, "frames": k, "max_abs_diff": diff,
        "max_abs_output": float(np.max(np.abs(tf_out))), "opset": int(request.get("opset", 13)),
        "tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
