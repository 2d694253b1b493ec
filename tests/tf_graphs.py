"""DeepRacer-layout TensorFlow frozen graphs for tests (`deepracer model import`, the console's import).

rl_coach's tensor names, the shallow CNN with the /255 inside the graph, softmax or tanh policy
heads, saved as frozen GraphDefs the way the console's download (`agent/model.pb`) and
DeepRacer-for-Cloud (`model_N.pb`) hold them. A plain module (not a conftest), imported as
`from tf_graphs import ...`.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
from testenv import skip_or_fail

CAMERA = "main_level/agent/{head}/online/network_0/{sensor}/{sensor}"
POLICY = "main_level/agent/{head}/online/network_1/ppo_head_0/policy"
DISCRETE_5 = [{"steering_angle": a, "speed": s, "index": i}
              for i, (a, s) in enumerate([(-30, 0.8), (-15, 1.2), (0, 1.6), (15, 1.2), (30, 0.8)])]


def tensorflow_or_skip():
    """TensorFlow's module; skip without it (with how to get it), fail under CI=1."""
    try:
        import tensorflow as tf
        import tf2onnx  # noqa: F401
    except ImportError as err:
        skip_or_fail(f"TensorFlow/tf2onnx not installed ({err}); `make setup-tf` installs them")
    return tf


def build_graph(tf, path: Path, *, n_out: int = 5, continuous: bool = False, sensor: str = "FRONT_FACING_CAMERA",
                head: str = "main", input_name: str | None = None, output_name: str | None = None,
                dense: int = 512, seed: int = 0) -> Path:
    """A frozen GraphDef shaped like DeepRacer's: placeholder [None,120,160,1] fed 0..255, /255
    in the graph (rl_coach's image embedder), conv 32 8x8/4, 64 4x4/2, 64 3x3/1 (ReLU),
    dense `dense` (ReLU), then softmax over n_out actions or tanh over (steering, speed)."""
    tf1 = tf.compat.v1
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 120, 160, 1],
                            name=input_name or CAMERA.format(head=head, sensor=sensor))
        h = x / 255.0
        channels = 1
        for filters, k, s in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            w = rng.normal(0, np.sqrt(2.0 / (k * k * channels)), (k, k, channels, filters)).astype(np.float32)
            b = rng.normal(0, 0.05, filters).astype(np.float32)
            h = tf.nn.relu(tf.nn.conv2d(h, tf.constant(w), strides=s, padding="VALID") + tf.constant(b))
            channels = filters
        h = tf.reshape(h, [-1, 11 * 16 * 64])
        w = rng.normal(0, np.sqrt(2.0 / (11 * 16 * 64)), (11 * 16 * 64, dense)).astype(np.float32)
        h = tf.nn.relu(tf.matmul(h, tf.constant(w)) + tf.constant(rng.normal(0, 0.05, dense).astype(np.float32)))
        width = 2 if continuous else n_out
        w = rng.normal(0, 1.5 / np.sqrt(dense), (dense, width)).astype(np.float32)
        logits = tf.matmul(h, tf.constant(w)) + tf.constant(rng.normal(0, 0.1, width).astype(np.float32))
        name = output_name or POLICY.format(head=head)
        (tf.tanh if continuous else tf.nn.softmax)(logits, name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def tf_policy(tf, pb: Path, frames: np.ndarray, head: str = "main", sensor: str = "FRONT_FACING_CAMERA",
              input_name: str | None = None) -> np.ndarray:
    """TensorFlow's policy output for uint8 frames (N,120,160), fed as the car feeds them (0..255)."""
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        name = (input_name or CAMERA.format(head=head, sensor=sensor)) + ":0"
        return np.stack([sess.run(POLICY.format(head=head) + ":0", {name: f[None, :, :, None].astype(np.float32)})[0]
                         for f in frames])


def metadata(actions=None, continuous: bool = False, sensor: str = "FRONT_FACING_CAMERA",
             algorithm: str = "clipped_ppo") -> dict:
    if continuous:
        return {"action_space": {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 2.0}},
                "action_space_type": "continuous", "sensor": [sensor], "training_algorithm": algorithm,
                "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "version": "5"}
    return {"action_space": actions or DISCRETE_5, "action_space_type": "discrete", "sensor": [sensor],
            "training_algorithm": algorithm, "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "version": "5"}


def console_tarball(tmp: Path, pb_builder, meta: dict, name: str = "my-model") -> Path:
    """The physical-car download: model_metadata.json and agent/model.pb at the top of a .tar.gz."""
    folder = tmp / f"{name}-files"
    pb_builder(folder / "agent" / "model.pb")
    (folder / "model_metadata.json").write_text(json.dumps(meta))
    out = tmp / f"{name}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder / "model_metadata.json", "model_metadata.json")
        tar.add(folder / "agent" / "model.pb", "agent/model.pb")
    return out


def frames(n: int = 6, seed: int = 1) -> np.ndarray:
    """Camera-like frames: smooth gradients plus noise, the full 0..255 range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:120, 0:160]
    out = []
    for _ in range(n):
        a, b, c = rng.uniform(-1, 1, 3)
        img = 128 + 100 * np.sin(a * xx / 20 + b * yy / 15 + c) + rng.normal(0, 20, (120, 160))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(out)
