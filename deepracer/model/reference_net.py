"""A DeepRacer-sized reference network, built without torch, and tiny test networks.

`make_reference_package` writes a complete model package whose network has the shape
of DeepRacer's shallow CNN (DEEP_CONVOLUTIONAL_NETWORK_SHALLOW): conv 32 8x8/4, conv
64 4x4/2, conv 64 3x3/1 (ReLU), FC 512 (ReLU), then the action head (softmax for
discrete, tanh for continuous) on a 1x1x120x160 grayscale input. The weights are
seeded random numbers: it drives badly but costs exactly what a trained model costs,
which is what latency benchmarks and tests need.

`make_fixed_package` and `make_brightness_package` write tiny packages whose output a
test controls (a constant, or a function of the image brightness).

Needs the `onnx` package (the sim/train/test extras), not torch and not onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepracer.model.metadata import Action, InputSpec, ModelMetadata, OutputSpec

OPSET = 17  # supported by every onnxruntime a car is likely to have
IR_VERSION = 8

# DeepRacer's default discrete action space (deepracer-for-cloud defaults/model_metadata.json).
DEFAULT_ACTIONS = [Action(-30.0, 0.6), Action(-15.0, 0.6), Action(0.0, 0.6), Action(15.0, 0.6), Action(30.0, 0.6)]
REFERENCE_INPUT = InputSpec(layout="NCHW", height=120, width=160, channels=1, color_order="gray",
                            scale=1.0 / 255.0, mean=(0.0,), std=(1.0,), frame_stack=1, name="observation")


def default_metadata() -> ModelMetadata:
    return ModelMetadata(action_space_type="discrete", actions=list(DEFAULT_ACTIONS))


def _with_onnx_block(metadata: ModelMetadata, spec: InputSpec, kind: str) -> ModelMetadata:
    """The metadata with our onnx block describing the network we write."""
    meta = ModelMetadata.from_dict(metadata.to_dict())  # a copy
    meta.input = spec
    meta.output = OutputSpec(kind=kind, name="action")  # type: ignore[arg-type]
    return meta


def _save(model, metadata: ModelMetadata, out_dir: str | Path) -> Path:
    import onnx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, str(out / "model.onnx"))
    metadata.write(out / "model_metadata.json")
    return out


def _model(nodes, inits, spec: InputSpec, n_out: int, name: str):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(spec.name or "observation", TensorProto.FLOAT, list(spec.shape()))],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="deepracer", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def build_reference_model(n_out: int, continuous: bool = False, seed: int = 0, spec: InputSpec = REFERENCE_INPUT):
    """The shallow DeepRacer CNN as an onnx ModelProto (He-initialised, seeded)."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def weight(name: str, shape: tuple[int, ...], fan_in: int) -> str:
        inits.append(numpy_helper.from_array(
            (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name))
        return name

    def bias(name: str, n: int) -> str:
        inits.append(numpy_helper.from_array(np.zeros(n, np.float32), name))
        return name

    x = spec.name or "observation"
    c_in, h, w = spec.tensor_channels, spec.height, spec.width
    for i, (c_out, k, s) in enumerate([(32, 8, 4), (64, 4, 2), (64, 3, 1)]):
        nodes.append(helper.make_node(
            "Conv", [x, weight(f"conv{i}.w", (c_out, c_in, k, k), c_in * k * k), bias(f"conv{i}.b", c_out)],
            [f"conv{i}"], kernel_shape=[k, k], strides=[s, s]))
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        x, c_in, h, w = f"relu{i}", c_out, (h - k) // s + 1, (w - k) // s + 1
    flat = c_in * h * w
    nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", weight("fc.w", (512, flat), flat), bias("fc.b", 512)], ["fc"], transB=1))
    nodes.append(helper.make_node("Relu", ["fc"], ["fc_relu"]))
    # A small head keeps the initial policy close to uniform, as PPO initialises it.
    inits.append(numpy_helper.from_array(
        (rng.standard_normal((n_out, 512)) * 0.01).astype(np.float32), "head.w"))
    nodes.append(helper.make_node("Gemm", ["fc_relu", "head.w", bias("head.b", n_out)], ["head"], transB=1))
    nodes.append(helper.make_node("Tanh" if continuous else "Softmax", ["head"], ["action"],
                                  **({} if continuous else {"axis": 1})))
    return _model(nodes, inits, spec, n_out, "deepracer_shallow_cnn")


def make_reference_package(out_dir: str | Path, metadata: ModelMetadata | None = None, seed: int = 0) -> Path:
    """Write a complete model package (model.onnx + model_metadata.json) to `out_dir`."""
    metadata = metadata or default_metadata()
    continuous = metadata.action_space_type == "continuous"
    model = build_reference_model(metadata.num_outputs, continuous=continuous, seed=seed)
    kind = "continuous" if continuous else "probabilities"
    return _save(model, _with_onnx_block(metadata, REFERENCE_INPUT, kind), out_dir)


def make_fixed_package(out_dir: str | Path, output: list[float], metadata: ModelMetadata | None = None,
                       spec: InputSpec = REFERENCE_INPUT) -> Path:
    """A package whose network always outputs `output` (it still reads the image, times 0)."""
    from onnx import helper, numpy_helper

    metadata = metadata or default_metadata()
    values = np.asarray(output, np.float32).reshape(1, -1)
    x = spec.name or "observation"
    nodes = [
        helper.make_node("ReduceMean", [x], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["fixed", "nothing"], ["action"]),
    ]
    inits = [numpy_helper.from_array(values, "fixed"), numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    model = _model(nodes, inits, spec, values.shape[1], "fixed_output")
    kind = "continuous" if metadata.action_space_type == "continuous" else "logits"
    return _save(model, _with_onnx_block(metadata, spec, kind), out_dir)


def make_brightness_package(out_dir: str | Path, metadata: ModelMetadata | None = None,
                            spec: InputSpec = REFERENCE_INPUT) -> Path:
    """A package whose choice follows the mean image brightness b in [0, 1] (scale 1/255).

    discrete, N actions: logits -(b*N - (i + 0.5))^2, so action i wins for b in [i/N, (i+1)/N).
    continuous: both outputs 2b - 1, so black = (low, low), white = (high, high).
    """
    from onnx import helper, numpy_helper

    metadata = metadata or default_metadata()
    x = spec.name or "observation"
    n = metadata.num_outputs
    nodes = [helper.make_node("ReduceMean", [x], ["b"], keepdims=0)]
    if metadata.action_space_type == "discrete":
        inits = [numpy_helper.from_array(np.float32(n), "n"),
                 numpy_helper.from_array((np.arange(n, dtype=np.float32) + 0.5).reshape(1, n), "centres")]
        nodes += [
            helper.make_node("Mul", ["b", "n"], ["bn"]),
            helper.make_node("Sub", ["bn", "centres"], ["d"]),
            helper.make_node("Mul", ["d", "d"], ["d2"]),
            helper.make_node("Neg", ["d2"], ["action"]),
        ]
        kind = "logits"
    else:
        inits = [numpy_helper.from_array(np.full((1, 2), 2.0, np.float32), "two"),
                 numpy_helper.from_array(np.float32(1.0), "one")]
        nodes += [helper.make_node("Mul", ["b", "two"], ["b2"]), helper.make_node("Sub", ["b2", "one"], ["action"])]
        kind = "continuous"
    model = _model(nodes, inits, spec, n, "brightness")
    return _save(model, _with_onnx_block(metadata, spec, kind), out_dir)
