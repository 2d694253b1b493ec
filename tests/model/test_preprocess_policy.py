"""Camera image -> tensor, and raw output -> (steering, speed): what the car actually does with a frame."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from deepracer.errors import ModelPackageError
from deepracer.model.metadata import Action, InputSpec, ModelMetadata
from deepracer.model.policy import OnnxPolicy, decode
from deepracer.model.preprocess import FrameStacker, Preprocessor, preprocess
from deepracer.model.reference_net import make_brightness_package, make_fixed_package

RNG = np.random.default_rng(7)
GRAY = InputSpec(height=120, width=160, channels=1, color_order="gray", scale=1 / 255)


def test_bgr_camera_frame_becomes_gray_shrunk_with_area_interpolation():
    frame = RNG.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    tensor = preprocess(frame, GRAY)
    expected = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (160, 120), interpolation=cv2.INTER_AREA)
    assert tensor.shape == (1, 1, 120, 160) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[0, 0], expected / 255.0, atol=1e-6)


def test_small_image_is_enlarged():
    tensor = preprocess(np.full((60, 80), 200, np.uint8), GRAY)
    assert tensor.shape == (1, 1, 120, 160)
    np.testing.assert_allclose(tensor, 200 / 255, atol=1e-6)


def test_colour_nhwc_rgb_with_mean_and_std():
    spec = InputSpec(layout="NHWC", height=2, width=2, channels=3, color_order="rgb", scale=1.0,
                     mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 5.0))
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 50, 60, 70  # B, G, R
    tensor = preprocess(bgr, spec)
    assert tensor.shape == (1, 2, 2, 3)
    # channel order R, G, B; (x - mean) / std per channel
    np.testing.assert_allclose(tensor[0, 0, 0], [(70 - 10) / 2, (60 - 20) / 4, (50 - 30) / 5])


def test_colour_nchw_layout_and_gray_input_to_colour_model():
    spec = InputSpec(layout="NCHW", height=4, width=6, channels=3, color_order="bgr", scale=1.0)
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[..., 2] = 9  # red channel in BGR
    tensor = preprocess(frame, spec)
    assert tensor.shape == (1, 3, 4, 6)
    assert tensor[0, 2].min() == 9 and tensor[0, :2].max() == 0
    gray_in = preprocess(np.full((4, 6), 5, np.uint8), spec)
    np.testing.assert_array_equal(gray_in, 5.0)


def test_preprocessor_writes_into_the_callers_buffer():
    pre = Preprocessor(GRAY)
    out = np.empty(pre.frame_shape, np.float32)
    result = pre(np.full((120, 160), 255, np.uint8), out=out)
    assert result is out and np.allclose(out, 1.0)


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.float32), np.zeros((10, 10, 2), np.uint8)])
def test_unsupported_images_are_rejected(bad):
    with pytest.raises(ValueError):
        Preprocessor(GRAY)(bad)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_frame_stacker_keeps_the_newest_last(layout):
    spec = InputSpec(layout=layout, height=2, width=3, channels=1, scale=1.0, frame_stack=3)
    pre, stack = Preprocessor(spec), FrameStacker(spec)
    assert spec.shape() == ((1, 3, 2, 3) if layout == "NCHW" else (1, 2, 3, 3))

    def channels(t):
        return (t[0, :, 0, 0] if layout == "NCHW" else t[0, 0, 0, :]).tolist()

    assert channels(stack.push(pre(np.full((2, 3), 1, np.uint8)))) == [1, 1, 1]  # first frame fills all
    assert channels(stack.push(pre(np.full((2, 3), 2, np.uint8)))) == [1, 1, 2]
    assert channels(stack.push(pre(np.full((2, 3), 3, np.uint8)))) == [1, 2, 3]
    assert channels(stack.push(pre(np.full((2, 3), 4, np.uint8)))) == [2, 3, 4]
    stack.reset()
    assert channels(stack.push(pre(np.full((2, 3), 9, np.uint8)))) == [9, 9, 9]


DISCRETE = ModelMetadata(action_space_type="discrete",
                         actions=[Action(-30, 0.5), Action(0, 1.0), Action(30, 0.5)])
CONTINUOUS = ModelMetadata.from_dict({
    "action_space_type": "continuous",
    "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 3}},
})


def test_decode_discrete_is_argmax_for_probabilities_and_logits():
    assert decode(np.array([0.1, 0.2, 0.7]), DISCRETE).index == 2
    d = decode(np.array([[-3.0, 5.0, -1.0]]), DISCRETE)
    assert (d.steering_angle, d.speed, d.index) == (0, 1.0, 1)


@pytest.mark.parametrize("raw, steering, speed", [
    ([-1, -1], -30, 1), ([1, 1], 30, 3), ([0, 0], 0, 2), ([0.5, -0.5], 15, 1.5),
    ([-7, 4], -30, 3),  # out of range: clipped
])
def test_decode_continuous_clips_and_rescales(raw, steering, speed):
    d = decode(np.array(raw, np.float32), CONTINUOUS)
    assert d.index is None
    assert d.steering_angle == pytest.approx(steering) and d.speed == pytest.approx(speed)


def test_decode_refuses_wrong_size_and_nan():
    with pytest.raises(ModelPackageError, match="gave 2 outputs"):
        decode(np.zeros(2), DISCRETE)
    with pytest.raises(ModelPackageError, match="not finite"):
        decode(np.array([np.nan, 0.0]), CONTINUOUS)


def test_brightness_model_steers_by_image(tmp_path):
    policy = OnnxPolicy(make_brightness_package(tmp_path / "b"))
    picks = [policy.predict(np.full((240, 320, 3), v, np.uint8)).steering_angle for v in (0, 60, 128, 200, 255)]
    assert picks == [-30, -15, 0, 15, 30]


def test_continuous_model_end_to_end(tmp_path):
    policy = OnnxPolicy(make_brightness_package(tmp_path / "c", metadata=CONTINUOUS))
    black, white = policy.predict(np.zeros((120, 160), np.uint8)), policy.predict(np.full((120, 160), 255, np.uint8))
    assert (black.steering_angle, black.speed) == pytest.approx((-30, 1))
    assert (white.steering_angle, white.speed) == pytest.approx((30, 3))
    assert black.inference_ms > 0


def test_frame_stacked_model_sees_the_history(tmp_path):
    """A stacked model averages its frames: a bright frame after dark ones reads as mid-grey."""
    spec = InputSpec(height=120, width=160, channels=1, scale=1 / 255, frame_stack=4, name="obs")
    policy = OnnxPolicy(make_brightness_package(tmp_path / "s", spec=spec))
    assert policy.predict(np.zeros((120, 160), np.uint8)).index == 0
    assert policy.predict(np.full((120, 160), 255, np.uint8)).index == 1  # mean 0.25 -> action 1 of 5
    policy.reset()
    assert policy.predict(np.full((120, 160), 255, np.uint8)).index == 4


def test_fixed_output_model(tmp_path):
    policy = OnnxPolicy(str(make_fixed_package(tmp_path / "f", [0, 0, 0, 9, 0])))
    d = policy.predict(np.zeros((120, 160), np.uint8))
    assert (d.steering_angle, d.speed, d.index) == (15, 0.6, 3)
    assert d.raw.tolist() == [0, 0, 0, 9, 0]


def test_reference_network_runs_on_several_threads(reference_package):
    d = OnnxPolicy(str(reference_package), num_threads=2).predict(RNG.integers(0, 256, (120, 160), dtype=np.uint8))
    assert d.index in range(5) and d.raw.sum() == pytest.approx(1.0, abs=1e-5)  # softmax head


def test_car_side_modules_do_not_import_torch_or_onnx():
    code = ("import sys, numpy as np\n"
            "import deepracer.model.policy, deepracer.model.package, deepracer.commands.model\n"
            "bad = sorted(m for m in ('torch', 'onnx') if m in sys.modules)\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == ""
