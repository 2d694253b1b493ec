"""A model package that can drive: a hand-built ONNX network that steers towards the road.

It finds the dark road in a band of the camera image below the horizon, takes the
centroid of the road pixels across the image (-1 left .. +1 right) and picks the discrete
action whose steering angle is nearest to -gain x centroid (steering positive = left).
Tests use it to complete laps through the real preprocessing, policy and simulator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_road_follower(out_dir: str | Path, speed: float = 1.0, gain: float = 2.0, rows: tuple[int, int] = (55, 85),
                       dark: float = 0.3) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    from deepracer.model.metadata import Action, ModelMetadata
    from deepracer.model.reference_net import IR_VERSION, REFERENCE_INPUT, _save, _with_onnx_block

    steer = [-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0]
    meta = ModelMetadata(action_space_type="discrete", actions=[Action(s, speed) for s in steer])
    h, w = REFERENCE_INPUT.height, REFERENCE_INPUT.width
    consts = {
        "starts": np.array([rows[0]], np.int64), "ends": np.array([rows[1]], np.int64), "axes": np.array([2], np.int64),
        "thr": np.array(dark, np.float32),
        "cols": np.linspace(-1.0, 1.0, w, dtype=np.float32).reshape(1, 1, 1, w),
        "eps": np.array(1e-3, np.float32),
        "neg_gain": np.array(-gain, np.float32),
        "actions": (np.array(steer, np.float32) / 30.0).reshape(1, -1),
        "shape": np.array([1, 1], np.int64),
        "minus_one": np.array(-1.0, np.float32),
    }
    nodes = [
        helper.make_node("Slice", ["observation", "starts", "ends", "axes"], ["band"]),
        helper.make_node("Sub", ["thr", "band"], ["below"]),
        helper.make_node("Relu", ["below"], ["road"]),  # how dark: > 0 on the road only
        helper.make_node("Mul", ["road", "cols"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted"], ["wsum"], keepdims=0),
        helper.make_node("ReduceSum", ["road"], ["msum"], keepdims=0),
        helper.make_node("Add", ["msum", "eps"], ["msum_eps"]),
        helper.make_node("Div", ["wsum", "msum_eps"], ["centroid"]),
        helper.make_node("Mul", ["centroid", "neg_gain"], ["target0"]),
        helper.make_node("Reshape", ["target0", "shape"], ["target"]),
        helper.make_node("Sub", ["actions", "target"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["sq"]),
        helper.make_node("Mul", ["sq", "minus_one"], ["action"]),  # logits: nearest action wins
    ]
    graph = helper.make_graph(
        nodes, "road_follower",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, [1, 1, h, w])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, len(steer)])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = IR_VERSION  # what onnxruntime here loads
    return _save(model, _with_onnx_block(meta, REFERENCE_INPUT, "logits"), out_dir)
